from gafkd.data.synthetic import write_synthetic_atomic
from gafkd.execution.snake import run_step

run_step(snakemake, write_synthetic_atomic, snakemake.output[0], snakemake.params.source, snakemake.params.window)
