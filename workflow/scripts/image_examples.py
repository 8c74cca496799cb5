from gafkd.reporting.make import write_image_examples
from gafkd.execution.snake import run_step

run_step(snakemake, write_image_examples, snakemake.wildcards.dataset, snakemake.wildcards.representation,
         snakemake.input.windows, snakemake.input.images, snakemake.output[0])
