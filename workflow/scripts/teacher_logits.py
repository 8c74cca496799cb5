from gafkd.execution.snake import run_training_step
from gafkd.training.teachers import write_teacher_logits

run_training_step(snakemake, write_teacher_logits, list(snakemake.params.weights), snakemake.input.windows,
                  snakemake.input.get("images"), list(snakemake.params.logits),
                  gpus=snakemake.resources.gpu, threads=snakemake.threads, manifest=snakemake.output[0])
