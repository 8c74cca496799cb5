from gafkd.reporting.make import write_plots
from gafkd.execution.snake import run_step

run_step(snakemake, write_plots, snakemake.params.config, snakemake.wildcards.dataset, snakemake.input.runs,
         snakemake.input.windows, dict(snakemake.output), snakemake.input.effects)
