# Stage 4: the 1-D student: cross-entropy baseline (spec "baseline") and distillation from cached logits
# (or from teachers run live, for feature losses);
# annealed students also wait for the student alone they start from.
# One rule; `{pack}` is a student pack (runs of one dataset trained as one fused model).


rule distill:
    input:
        windows=STUDY.windows_h5(),
        logits=lambda wc: STUDY.teacher_logits_of(wc.dataset, wc.pack),
        init=lambda wc: STUDY.init_of(wc.dataset, wc.pack),
        live=lambda wc: STUDY.live_teachers_of(wc.dataset, wc.pack),
    output:
        STUDY.manifest("distill"),
    log:
        results("logs", "distill", "{dataset}", "{pack}.log"),
    benchmark:
        results("benchmarks", "distill", "{dataset}", "{pack}.tsv")
    wildcard_constraints:
        pack=STUDY.pack_pattern("distill"),
    conda:
        TRAIN_ENV
    threads: STUDY.threads
    resources:
        gpu=GPUS_PER_JOB,
    params:
        pack=lambda wc: STUDY.pack("distill", wc.dataset, wc.pack).to_dict(),
        training=lambda wc: STUDY.training_params(wc.dataset),
    script:
        "../scripts/train_pack.py"
