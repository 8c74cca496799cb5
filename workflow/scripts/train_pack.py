from gafkd.execution.snake import run_training_step
from gafkd.training.runs import train_pack
from gafkd.training.spec import Pack

run_training_step(snakemake, train_pack, Pack.from_dict(snakemake.params.pack), snakemake.input.windows,
                  snakemake.input.get("images"), threads=snakemake.threads,
                  gpus=snakemake.resources.gpu, manifest=snakemake.output[0])
