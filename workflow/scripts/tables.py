from gafkd.reporting.make import write_tables
from gafkd.execution.snake import run_step

run_step(snakemake, write_tables, snakemake.params.config, snakemake.input.runs, snakemake.output.markdown,
         snakemake.output.html, effects_path=snakemake.input.effects, exports=snakemake.output.exports,
         rankings_output=snakemake.output.rankings, diagram=snakemake.output.diagram)
