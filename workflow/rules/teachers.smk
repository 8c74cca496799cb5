# Stage 3: Wide ResNet teachers on GAF images (2-D) and raw signals (1-D), and their cached logits.
# One rule per stage; `{pack}` is a teacher pack (the seeds of one dataset, modality and architecture,
# trained as one fused model). Each member writes its own files; the job's output is the pack's manifest.


rule train_teacher:
    input:
        unpack(pack_inputs),
    output:
        manifest("train_teacher"),
    log:
        results("logs", "train_teacher", "{dataset}", "{pack}.log"),
    benchmark:
        results("benchmarks", "train_teacher", "{dataset}", "{pack}.tsv")
    wildcard_constraints:
        pack=pack_pattern(TEACHER_PACKS),
    conda:
        TRAIN_ENV
    threads: config["training"]["threads"]
    resources:
        gpu=GPUS_PER_JOB,
    params:
        pack=lambda wc: teacher_pack(wc).to_dict(),
        training=lambda wc: TRAINING[wc.dataset],
    script:
        "../scripts/train_pack.py"


rule teacher_logits:
    """A frozen teacher's logits on every window, computed once and reused by all its students."""
    input:
        unpack(pack_inputs),
        trained=manifest("train_teacher"),
    output:
        manifest("teacher_logits"),
    log:
        results("logs", "teacher_logits", "{dataset}", "{pack}.log"),
    benchmark:
        results("benchmarks", "teacher_logits", "{dataset}", "{pack}.tsv")
    wildcard_constraints:
        pack=pack_pattern(TEACHER_PACKS),
    conda:
        TRAIN_ENV
    threads: config["training"]["threads"]
    resources:
        gpu=GPUS_PER_JOB,
    params:
        weights=lambda wc: member_files(wc, "weights"),
        logits=member_logits,
        training=lambda wc: LOGITS_TRAINING[wc.dataset],
    script:
        "../scripts/teacher_logits.py"
