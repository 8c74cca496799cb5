# gafkd: GENEActiv windows → GAF images → WRN teachers → distilled students → results tables.
# Run: snakemake --cores 4 --resources gpu=1 [--configfile demo.yaml]

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Wildcards match only what the config and the grid can produce, so no path is misparsed.
wildcard_constraints:
    dataset="|".join(DATASETS),
    modality="gaf|sig",
    arch=r"wrn\d+-\d+",
    student=r"wrn\d+-\d+",
    seed=r"\d+",
    spec=SPEC_PATTERN,


include: "workflow/rules/data.smk"
include: "workflow/rules/gaf.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/students.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
