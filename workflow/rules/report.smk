# Stage 5: runs.csv → summary.csv, effects.csv, rankings.csv, tables.md (and each table as LaTeX and CSV) and
# the plots; `snakemake --report` gathers them.


localrules:
    collect_runs,
    summarize_runs,
    tables,
    plots,
    image_examples,


rule collect_runs:
    """One row per run, from every metrics.json of the grid (the training jobs' manifests list them)."""
    input:
        STUDY.training_manifests(),
    output:
        results("runs.csv"),
    log:
        results("logs", "collect_runs.log"),
    conda:
        "../../envs/report.yaml"
    params:
        config=STUDY.report_config,
    script:
        "../scripts/collect_runs.py"


rule summarize_runs:
    """The statistics of the runs: mean and std per configuration, and each KD configuration against the
    matching student alone (Δ, its interval, the exact sign-flip test, Holm)."""
    input:
        rules.collect_runs.output[0],
    output:
        summary=results("summary.csv"),
        effects=results("effects.csv"),
    log:
        results("logs", "summarize_runs.log"),
    conda:
        "../../envs/report.yaml"
    params:
        config=STUDY.report_config,
    script:
        "../scripts/summarize_runs.py"


rule tables:
    """The notes' markdown tables, every number from runs.csv; the same as HTML for the report, each table as
    LaTeX (booktabs) and CSV; and the main tables' student rows ranked (Friedman, Nemenyi) with their
    critical-difference diagrams."""
    input:
        runs=rules.collect_runs.output[0],
        summary=rules.summarize_runs.output.summary,
        effects=rules.summarize_runs.output.effects,
    output:
        markdown=results("tables.md"),
        html=report(
            results("tables.html"), caption="../report/tables.rst", category="Tables"
        ),
        exports=directory(results("tables")),
        rankings=results("rankings.csv"),
        diagram=report(
            results("plots", "critical_difference.png"),
            caption="../report/critical_difference.rst",
            category="Effects",
            subcategory="rankings",
        ),
    log:
        results("logs", "tables.log"),
    conda:
        "../../envs/report.yaml"
    params:
        config=STUDY.report_config,
    script:
        "../scripts/tables.py"


rule plots:
    """One dataset section's figures (a fold-split dataset's folds pooled)."""
    input:
        runs=rules.collect_runs.output[0],
        effects=rules.summarize_runs.output.effects,
        windows=lambda wc: STUDY.section_windows(wc.dataset),
    output:
        **figure_outputs(),
    log:
        results("logs", "plots", "{dataset}.log"),
    conda:
        "../../envs/report.yaml"
    params:
        config=STUDY.report_config,
    script:
        "../scripts/plots.py"


rule image_examples:
    """One training window per class in each image representation the teachers use (a fold-split dataset's
    first fold)."""
    input:
        windows=lambda wc: STUDY.section_windows(wc.dataset),
        images=lambda wc: STUDY.examples_images(wc.dataset, wc.representation),
    output:
        report(
            STUDY.examples_png(),
            caption="../report/image_examples.rst",
            category="Images",
            subcategory="{dataset}",
        ),
    log:
        results("logs", "image_examples", "{dataset}", "{representation}.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/image_examples.py"


onsuccess:
    # The HTML report (tables and plots with categories) after every complete run; never on dry runs.
    html_report()
