# Stage 2: windows.h5 → gaf.h5 (GASF/GADF images, 3 axes as channels), computed once.


rule gaf:
    input:
        rules.window.output[0],
    output:
        gaf_h5("{dataset}"),
    log:
        results("logs", "gaf", "{dataset}.log"),
    benchmark:
        results("benchmarks", "gaf", "{dataset}.tsv")
    conda:
        "../../envs/gaf.yaml"
    params:
        settings=config["gaf"],
    script:
        "../scripts/gaf.py"
