# Stage 4: the 1-D student: cross-entropy baseline (spec "ce") and distillation from cached logits.


rule distill:
    input:
        windows=results("{dataset}", "windows.h5"),
        logits=student_teacher_logits,
    output:
        metrics=results("{dataset}", "students", "{student}", "{spec}", "seed{seed}", "metrics.json"),
        history=results("{dataset}", "students", "{student}", "{spec}", "seed{seed}", "history.csv"),
        weights=results("{dataset}", "students", "{student}", "{spec}", "seed{seed}", "weights.pt"),
    params:
        training=TRAINING,
        temperature=config["students"]["temperature"],
        gpu_slots=GPU_SLOTS,
    threads: config["training"]["threads"]
    resources:
        gpu=GPUS_PER_JOB,
    conda:
        "../../envs/train.yaml"
    log:
        results("logs", "distill", "{dataset}", "{student}", "{spec}-seed{seed}.log"),
    benchmark:
        results("benchmarks", "distill", "{dataset}", "{student}", "{spec}-seed{seed}.tsv")
    script:
        "../scripts/distill.py"
