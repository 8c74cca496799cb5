# gafkd: GENEActiv windows → GAF images → WRN teachers → distilled students → results tables.
# Run: snakemake --cores 4 --resources gpu=1 [--configfile demo.yaml]

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Wildcards match only the configured datasets (training rules are one per pack, without wildcards).
wildcard_constraints:
    dataset="|".join(DATASETS),


include: "workflow/rules/data.smk"
include: "workflow/rules/gaf.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/students.smk"
include: "workflow/rules/report.smk"


onstart:
    stop_if_data_is_missing()


rule all:
    default_target: True
    input:
        all_outputs(),
