# Stage 4: the 1-D student: cross-entropy baseline (spec "baseline") and distillation from cached logits.
# One rule per student pack (runs of one dataset trained as one fused model): `distill__{dataset}__{pack}`.

for pack in STUDENT_PACKS:
    dataset = pack.members[0].dataset

    # before the rule: Snakemake applies a profile's settings when the rule is defined
    inherit_stage_settings(rule_name("distill", dataset, pack), "distill")

    rule:
        name:
            rule_name("distill", dataset, pack)
        input:
            windows=windows_h5(dataset),
            logits=student_teacher_logits(pack),
        output:
            metrics=member_outputs(pack, "metrics"),
            history=member_outputs(pack, "history"),
            weights=member_outputs(pack, "weights"),
        log:
            results("logs", "distill", dataset, f"{pack.name}.log"),
        benchmark:
            results("benchmarks", "distill", dataset, f"{pack.name}.tsv")
        conda:
            "../../envs/train.yaml"
        threads: config["training"]["threads"]
        resources:
            gpu=GPUS_PER_JOB,
        params:
            pack=pack.to_dict(),
            training=TRAINING,
        script:
            "../scripts/train_pack.py"
