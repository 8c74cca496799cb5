# Stage 3: Wide ResNet teachers on GAF images (2-D) and raw signals (1-D), and their cached logits.
# One rule per stage; `{pack}` is a teacher pack (the seeds of one dataset, modality and architecture,
# trained as one fused model). Each member writes its own files; the job's output is the pack's manifest.


rule train_teacher:
    input:
        unpack(lambda wc: STUDY.pack_inputs(wc.dataset, wc.pack)),
    output:
        STUDY.manifest("train_teacher"),
    log:
        results("logs", "train_teacher", "{dataset}", "{pack}.log"),
    benchmark:
        results("benchmarks", "train_teacher", "{dataset}", "{pack}.tsv")
    wildcard_constraints:
        pack=STUDY.pack_pattern("train_teacher"),
    conda:
        TRAIN_ENV
    threads: STUDY.threads
    resources:
        gpu=GPUS_PER_JOB,
    params:
        pack=lambda wc: STUDY.pack("train_teacher", wc.dataset, wc.pack).to_dict(),
        training=lambda wc: STUDY.training_params(wc.dataset),
    script:
        "../scripts/train_pack.py"


rule teacher_logits:
    """A frozen teacher's logits on every window, computed once and reused by all its students."""
    input:
        unpack(lambda wc: STUDY.pack_inputs(wc.dataset, wc.pack)),
        trained=STUDY.manifest("train_teacher"),
    output:
        STUDY.manifest("teacher_logits"),
    log:
        results("logs", "teacher_logits", "{dataset}", "{pack}.log"),
    benchmark:
        results("benchmarks", "teacher_logits", "{dataset}", "{pack}.tsv")
    wildcard_constraints:
        pack=STUDY.pack_pattern("train_teacher"),
    conda:
        TRAIN_ENV
    threads: STUDY.threads
    resources:
        gpu=GPUS_PER_JOB,
    params:
        weights=lambda wc: STUDY.member_files(wc.dataset, wc.pack, "weights"),
        logits=lambda wc: STUDY.member_logits(wc.dataset, wc.pack),
        training=lambda wc: STUDY.logits_params(wc.dataset),
    script:
        "../scripts/teacher_logits.py"
