from gafkd.runs import train_teacher
from gafkd.snake import run_step

w = snakemake.wildcards
run_step(snakemake, train_teacher, snakemake.input.windows, snakemake.input.get("gaf"), dict(snakemake.output),
         dataset=w.dataset, modality=w.modality, arch=w.arch, seed=int(w.seed), training=snakemake.params.training,
         threads=snakemake.threads, gpus=snakemake.resources.gpu, gpu_slots=snakemake.params.gpu_slots)
