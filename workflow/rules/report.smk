# Stage 5: runs.csv → summary.csv, tables.md and the plots; `snakemake --report` gathers them.


localrules:
    collect_runs,
    summarize_runs,
    tables,
    plots,


rule collect_runs:
    """One row per finished run, from every metrics.json of the grid."""
    input:
        teacher_metrics(),
        student_metrics(),
    output:
        results("runs.csv"),
    conda:
        "../../envs/report.yaml"
    log:
        results("logs", "collect_runs.log"),
    script:
        "../scripts/collect_runs.py"


rule summarize_runs:
    input:
        results("runs.csv"),
    output:
        results("summary.csv"),
    conda:
        "../../envs/report.yaml"
    log:
        results("logs", "summarize_runs.log"),
    script:
        "../scripts/summarize_runs.py"


rule tables:
    """The notes' markdown tables, every number from runs.csv."""
    input:
        runs=results("runs.csv"),
        summary=results("summary.csv"),
    output:
        report(results("tables.md"), caption="../report/tables.rst", category="Tables"),
    params:
        config=REPORT_CONFIG,
    conda:
        "../../envs/report.yaml"
    log:
        results("logs", "tables.log"),
    script:
        "../scripts/tables.py"


rule plots:
    input:
        runs=results("runs.csv"),
        windows=results("{dataset}", "windows.h5"),
        gaf=results("{dataset}", "gaf.h5"),
    output:
        alpha_sweep=report(
            results("plots", "{dataset}", "alpha_sweep.png"),
            caption="../report/alpha_sweep.rst",
            category="Sweeps",
            subcategory="{dataset}",
        ),
        lambda_sweep=report(
            results("plots", "{dataset}", "lambda_sweep.png"),
            caption="../report/lambda_sweep.rst",
            category="Sweeps",
            subcategory="{dataset}",
        ),
        learning_curves=report(
            results("plots", "{dataset}", "learning_curves.png"),
            caption="../report/learning_curves.rst",
            category="Learning curves",
            subcategory="{dataset}",
        ),
        gaf_examples=report(
            results("plots", "{dataset}", "gaf_examples.png"),
            caption="../report/gaf_examples.rst",
            category="GAF images",
            subcategory="{dataset}",
        ),
        confusion_teacher=report(
            results("plots", "{dataset}", "confusion_teacher.png"),
            caption="../report/confusion.rst",
            category="Confusion matrices",
            subcategory="{dataset}",
        ),
        confusion_student=report(
            results("plots", "{dataset}", "confusion_student.png"),
            caption="../report/confusion.rst",
            category="Confusion matrices",
            subcategory="{dataset}",
        ),
    params:
        config=REPORT_CONFIG,
    conda:
        "../../envs/report.yaml"
    log:
        results("logs", "plots", "{dataset}.log"),
    script:
        "../scripts/plots.py"


onsuccess:
    # The HTML report (tables and plots with categories) after every complete run; never on dry runs.
    html_report()
