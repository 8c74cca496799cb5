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
        dataset=names_pattern(READ),
    conda:
        "../../envs/data.yaml"
    params:
        source=lambda wc: READ[wc.dataset]["source"],
        window=lambda wc: READ[wc.dataset]["window"],
    script:
        "../scripts/synthesize.py"


rule window:
    """Cut, label and split the windows of one dataset variant (a fold-split dataset: every window, unsplit)."""
    input:
        source=dataset_source,
    output:
        windows_h5("{dataset}"),
    log:
        results("logs", "window", "{dataset}.log"),
    benchmark:
        results("benchmarks", "window", "{dataset}.tsv")
    wildcard_constraints:
        dataset=names_pattern(READ),
    conda:
        "../../envs/data.yaml"
    params:
        settings=lambda wc: READ[wc.dataset],
        folder=lambda wc: dataset_folder(wc.dataset),
    script:
        "../scripts/window.py"


rule fold_windows:
    """A fold's windows.h5: its dataset's windows (linked) with the fold's split (gafkd.folds)."""
    input:
        fold_dataset_windows,
    output:
        windows_h5("{dataset}"),
    log:
        results("logs", "fold_windows", "{dataset}.log"),
    wildcard_constraints:
        dataset=names_pattern(FOLDS),
    conda:
        "../../envs/data.yaml"
    params:
        settings=lambda wc: dataset_settings(config, wc.dataset),
    script:
        "../scripts/fold_windows.py"
