from gafkd.execution.snake import run_step
from gafkd.training.teachers import write_teacher_logits

run_step(snakemake, write_teacher_logits, list(snakemake.input.weights), snakemake.input.windows,
         snakemake.input.get("gaf"), list(snakemake.output), which=snakemake.params.which,
         gpus=snakemake.resources.gpu, gpu_slots=snakemake.params.gpu_slots, threads=snakemake.threads)
