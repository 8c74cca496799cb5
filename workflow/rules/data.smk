# Stage 1: raw recordings (or the synthetic generator) → windows.h5 per dataset variant.


rule synthesize:
    """Write the embedded GENEActiv-like data in one of the real on-disk formats."""
    output:
        directory(results("{dataset}", "source")),
    log:
        results("logs", "synthesize", "{dataset}.log"),
    benchmark:
        results("benchmarks", "synthesize", "{dataset}.tsv")
    conda:
        "../../envs/data.yaml"
    params:
        source=lambda wc: dataset_settings(config, wc.dataset)["source"],
        window=lambda wc: config["datasets"][wc.dataset]["window"],
    script:
        "../scripts/synthesize.py"


rule window:
    """Cut, label and split the windows of one dataset variant."""
    input:
        source=dataset_source,
    output:
        windows_h5("{dataset}"),
    log:
        results("logs", "window", "{dataset}.log"),
    benchmark:
        results("benchmarks", "window", "{dataset}.tsv")
    conda:
        "../../envs/data.yaml"
    params:
        settings=lambda wc: dataset_settings(config, wc.dataset),
        folder=lambda wc: (
            results(wc.dataset, "source")
            if config["datasets"][wc.dataset]["source"]["format"] == "synthetic"
            else config["datasets"][wc.dataset]["source"]["path"]
        ),
    script:
        "../scripts/window.py"
