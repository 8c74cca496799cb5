# Stage 1: raw recordings (or the synthetic generator) → windows.h5 per dataset variant.


rule synthesize:
    """Write the embedded generator's data in one of the real on-disk formats."""
    output:
        directory(results("{dataset}", "source")),
    log:
        results("logs", "synthesize", "{dataset}.log"),
    benchmark:
        results("benchmarks", "synthesize", "{dataset}.tsv")
    wildcard_constraints:
        dataset=names_pattern(STUDY.read),
    conda:
        "../../envs/data.yaml"
    params:
        source=lambda wc: STUDY.read[wc.dataset]["source"],
        window=lambda wc: STUDY.read[wc.dataset]["window"],
    script:
        "../scripts/synthesize.py"


rule window:
    """Cut, label and split the windows of one dataset variant (a fold-split dataset: every window, unsplit)."""
    input:
        source=lambda wc: STUDY.dataset_source(wc.dataset),
    output:
        STUDY.windows_h5(),
    log:
        results("logs", "window", "{dataset}.log"),
    benchmark:
        results("benchmarks", "window", "{dataset}.tsv")
    wildcard_constraints:
        dataset=names_pattern(STUDY.read),
    conda:
        "../../envs/data.yaml"
    params:
        settings=lambda wc: STUDY.read[wc.dataset],
        folder=lambda wc: STUDY.dataset_folder(wc.dataset),
    script:
        "../scripts/window.py"


rule fold_windows:
    """A fold's windows.h5: its dataset's windows (linked) with the fold's split (gafkd.folds)."""
    input:
        lambda wc: STUDY.fold_source(wc.dataset),
    output:
        STUDY.windows_h5(),
    log:
        results("logs", "fold_windows", "{dataset}.log"),
    wildcard_constraints:
        dataset=names_pattern(STUDY.folds),
    conda:
        "../../envs/data.yaml"
    params:
        settings=lambda wc: STUDY.fold_settings(wc.dataset),
    script:
        "../scripts/fold_windows.py"
