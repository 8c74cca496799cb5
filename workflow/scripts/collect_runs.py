from gafkd.reporting.make import write_runs
from gafkd.execution.snake import run_step

run_step(snakemake, write_runs, list(snakemake.input), snakemake.output[0], snakemake.params.config)
