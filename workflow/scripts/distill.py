from gafkd.runs import distill
from gafkd.snake import run_step

w = snakemake.wildcards
run_step(snakemake, distill, snakemake.input.windows, list(snakemake.input.logits), dict(snakemake.output),
         dataset=w.dataset, spec=w.spec, student_arch=w.student, seed=int(w.seed),
         temperature=snakemake.params.temperature, training=snakemake.params.training, threads=snakemake.threads,
         gpus=snakemake.resources.gpu, gpu_slots=snakemake.params.gpu_slots)
