from gafkd.data.build import build_fold_windows
from gafkd.execution.snake import run_step

run_step(snakemake, build_fold_windows, snakemake.input[0], snakemake.params.settings, snakemake.wildcards.dataset,
         snakemake.output[0])
