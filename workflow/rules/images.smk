# Stage 2: windows.h5 → {representation}.h5 (3 axes as channels), computed once per dataset for every
# image representation a teacher uses (gafkd.images.registry; gaf.h5: the group's GASF).


rule images:
    input:
        STUDY.windows_h5(),
    output:
        STUDY.images_h5(),
    log:
        results("logs", "images", "{dataset}", "{representation}.log"),
    benchmark:
        results("benchmarks", "images", "{dataset}", "{representation}.tsv")
    conda:
        "../../envs/images.yaml"
    params:
        settings=lambda wc: STUDY.image_settings[wc.dataset, wc.representation],
    script:
        "../scripts/images.py"
