# Stage 3: Wide ResNet teachers on GAF images (2-D) and raw signals (1-D), and their cached logits.


rule train_teacher:
    input:
        unpack(run_inputs),
    output:
        metrics=results("{dataset}", "teachers", "{modality}-{arch}", "seed{seed}", "metrics.json"),
        history=results("{dataset}", "teachers", "{modality}-{arch}", "seed{seed}", "history.csv"),
        weights=results("{dataset}", "teachers", "{modality}-{arch}", "seed{seed}", "weights.pt"),
    params:
        training=TRAINING,
        gpu_slots=GPU_SLOTS,
    threads: config["training"]["threads"]
    resources:
        gpu=GPUS_PER_JOB,
    conda:
        "../../envs/train.yaml"
    log:
        results("logs", "train_teacher", "{dataset}", "{modality}-{arch}-seed{seed}.log"),
    benchmark:
        results("benchmarks", "train_teacher", "{dataset}", "{modality}-{arch}-seed{seed}.tsv")
    script:
        "../scripts/train_teacher.py"


rule teacher_logits:
    """A frozen teacher's logits on every window, computed once and reused by all its students."""
    input:
        unpack(run_inputs),
        weights=results("{dataset}", "teachers", "{modality}-{arch}", "seed{seed}", "weights.pt"),
    output:
        results("{dataset}", "teachers", "{modality}-{arch}", "seed{seed}", "logits.h5"),
    params:
        which=config["training"]["teacher_weights"],
        gpu_slots=GPU_SLOTS,
    threads: config["training"]["threads"]
    resources:
        gpu=GPUS_PER_JOB,
    conda:
        "../../envs/train.yaml"
    log:
        results("logs", "teacher_logits", "{dataset}", "{modality}-{arch}-seed{seed}.log"),
    benchmark:
        results("benchmarks", "teacher_logits", "{dataset}", "{modality}-{arch}-seed{seed}.tsv")
    script:
        "../scripts/teacher_logits.py"
