# Stage 2: windows.h5 → {representation}.h5 (3 axes as channels), computed once per dataset for every
# image representation a teacher uses (gafkd.gaf.registry; gaf.h5: the group's GASF).


rule gaf:
    input:
        windows_h5("{dataset}"),
    output:
        images_h5("{dataset}"),
    log:
        results("logs", "gaf", "{dataset}", "{representation}.log"),
    benchmark:
        results("benchmarks", "gaf", "{dataset}", "{representation}.tsv")
    conda:
        "../../envs/gaf.yaml"
    params:
        settings=lambda wc: IMAGE_SETTINGS[wc.dataset, wc.representation],
    script:
        "../scripts/gaf.py"
