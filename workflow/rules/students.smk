# Stage 4: the 1-D student: cross-entropy baseline (spec "baseline") and distillation from cached logits
# (or from teachers run live, for feature losses);
# annealed students also wait for the student alone they start from.
# One rule; `{pack}` is a student pack (runs of one dataset trained as one fused model).


rule distill:
    input:
        windows=windows_h5("{dataset}"),
        logits=student_teacher_logits,
        init=student_init,
        live=student_live_teachers,
    output:
        manifest("distill"),
    log:
        results("logs", "distill", "{dataset}", "{pack}.log"),
    benchmark:
        results("benchmarks", "distill", "{dataset}", "{pack}.tsv")
    wildcard_constraints:
        pack=pack_pattern(STUDENT_PACKS),
    conda:
        TRAIN_ENV
    threads: config["training"]["threads"]
    resources:
        gpu=GPUS_PER_JOB,
    params:
        pack=lambda wc: student_pack(wc).to_dict(),
        training=lambda wc: TRAINING[wc.dataset],
    script:
        "../scripts/train_pack.py"
