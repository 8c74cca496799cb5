from gafkd.reporting.make import write_statistics
from gafkd.execution.snake import run_step

run_step(snakemake, write_statistics, snakemake.params.config, snakemake.input[0], snakemake.output.summary,
         snakemake.output.effects)
