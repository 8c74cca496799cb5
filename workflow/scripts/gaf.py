from gafkd.gaf.build import build_gaf
from gafkd.execution.snake import run_step

run_step(snakemake, build_gaf, snakemake.input[0], snakemake.output[0], snakemake.params.settings)
