from gafkd.reporting.make import write_summary
from gafkd.execution.snake import run_step

run_step(snakemake, write_summary, snakemake.input[0], snakemake.output[0])
