# Stage 2: windows.h5 → gaf.h5 (GASF/GADF images, 3 axes as channels), computed once.


rule gaf:
    input:
        results("{dataset}", "windows.h5"),
    output:
        results("{dataset}", "gaf.h5"),
    params:
        settings=config["gaf"],
    conda:
        "../../envs/data.yaml"
    log:
        results("logs", "gaf", "{dataset}.log"),
    benchmark:
        results("benchmarks", "gaf", "{dataset}.tsv")
    script:
        "../scripts/gaf.py"
