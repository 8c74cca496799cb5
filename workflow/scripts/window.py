from gafkd.data.build import build_windows
from gafkd.execution.snake import run_step

run_step(snakemake, build_windows, snakemake.params.folder, snakemake.params.settings,
         snakemake.wildcards.dataset, snakemake.output[0])
