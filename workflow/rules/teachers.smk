# Stage 3: Wide ResNet teachers on GAF images (2-D) and raw signals (1-D), and their cached logits.
# One rule per teacher pack (the seeds of one dataset, modality and architecture, trained as one fused
# model): `train_teacher__{dataset}__{pack}`; profiles set threads and resources for the stage name.

for pack in TEACHER_PACKS:
    dataset = pack.members[0].dataset

    # before the rule: Snakemake applies a profile's settings when the rule is defined
    inherit_stage_settings(rule_name("train_teacher", dataset, pack), "train_teacher")

    rule:
        name:
            rule_name("train_teacher", dataset, pack)
        input:
            **pack_inputs(pack),
        output:
            metrics=member_outputs(pack, "metrics"),
            history=member_outputs(pack, "history"),
            weights=member_outputs(pack, "weights"),
        log:
            results("logs", "train_teacher", dataset, f"{pack.name}.log"),
        benchmark:
            results("benchmarks", "train_teacher", dataset, f"{pack.name}.tsv")
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

    # before the rule: Snakemake applies a profile's settings when the rule is defined
    inherit_stage_settings(
        rule_name("teacher_logits", dataset, pack), "teacher_logits"
    )

    rule:
        # A frozen teacher's logits on every window, computed once and reused by all its students.
        name:
            rule_name("teacher_logits", dataset, pack)
        input:
            **pack_inputs(pack),
            weights=member_outputs(pack, "weights"),
        output:
            member_logits(pack),
        log:
            results("logs", "teacher_logits", dataset, f"{pack.name}.log"),
        benchmark:
            results("benchmarks", "teacher_logits", dataset, f"{pack.name}.tsv")
        conda:
            "../../envs/train.yaml"
        threads: config["training"]["threads"]
        resources:
            gpu=GPUS_PER_JOB,
        params:
            training=LOGITS_TRAINING,
        script:
            "../scripts/teacher_logits.py"
