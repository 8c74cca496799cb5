from gafkd.images.build import build_images
from gafkd.execution.snake import run_step

run_step(snakemake, build_images, snakemake.input[0], snakemake.output[0], snakemake.params.settings)
