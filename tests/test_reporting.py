"""runs.csv → summary.csv → tables.md: formatting, order, missing trials, the reference, provenance."""

import copy
import json
import re

import numpy as np
import pytest

from gafkd.errors import DataError
from gafkd.grid import experiments
from gafkd.reporting import collect_runs, summarize
from gafkd.reporting.make import load_reference
from gafkd.reporting.summary import mean_std
from gafkd.reporting.document import render_tables
from gafkd.reporting.tables import DatasetTables, fmt, stats_cells
from helpers import CONFIG, fake_runs, main_table_rows

NOTES = [63.0491, 63.3270, 62.9797]


def test_population_std_and_the_notes_format():
    mean, std = mean_std(NOTES)
    assert (fmt(mean), fmt(std)) == ("63.1186", "0.1501")
    assert stats_cells(NOTES) == ("<u>**63.1186**</u>", "0.1501", "")
    assert fmt(200 / 3) == "66.6667" and fmt(100 / 3) == "33.3333" and fmt(50) == "50.0000"


def test_row_order_and_labels():
    text = render_tables(CONFIG, fake_runs(), load_reference(), "footer")
    labels = [row.split("|")[1].strip() for row in main_table_rows(text)]
    assert labels[:4] == [f"WRN{a} (GAF single network, 500w, 14cls)" for a in ("16-1", "16-3", "28-1", "28-3")]
    assert labels[4:8] == [f"WRN{a} (Sig single network, 500w, 14cls)" for a in ("16-1", "16-3", "28-1", "28-3")]
    assert labels[8] == "S: WRN16-1(Sig) alone (500w, 14cls)"
    assert labels[9] == "T: WRN16-1(GAF), S: WRN16-1(Sig) (500w, 14cls)"
    assert labels[14] == "T1: WRN16-3(GAF), T2: WRN16-3(Sig), S: WRN16-1(Sig) (500w, 14cls)"
    assert len(labels) == 17
    header = [line for line in text.splitlines() if line.startswith("| Experiment (alpha")][0]
    assert [c.strip() for c in header.split("|")[1:-1]] == [
        "Experiment (alpha = 0.3, 500w, 14cls)", "Trial 1", "Trial 2", "Trial 3", "Mean", "Std", "n",
        "Δ vs alone [95 % CI]"]
    for dataset, suffix in (("gene7_w500", "500w, 7cls"), ("gene7_w1000", "1000w, 7cls")):
        assert f"## {dataset} ({suffix})" in text
    assert "### Alpha sweep" in text and "### Lambda sweep" in text and "footer" in text


def test_the_notes_example_renders_exactly():
    runs = fake_runs()
    mask = (runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-1")
    runs.loc[mask, "best_test_acc"] = NOTES
    row = main_table_rows(render_tables(CONFIG, runs, load_reference(), ""))[0]
    # the notes' columns exactly; then n and (a teacher row) no effect
    assert [c.strip() for c in row.split("|")[2:-1]] == ["63.0491", "63.3270", "62.9797", "<u>**63.1186**</u>", "0.1501",
                                                         "3", ""]


def test_missing_trials_are_marked_not_averaged_as_complete():
    runs = fake_runs()
    drop = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-3") & (runs["seed"] == 1)].index
    runs = runs.drop(drop)
    none = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn28-1")].index
    runs = runs.drop(none)
    rows = main_table_rows(render_tables(CONFIG, runs, load_reference(), ""))
    assert "† n=2/3" in rows[1] and "| —" in rows[1]
    kept = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-3")]["best_test_acc"]
    assert f"<u>**{fmt(kept.mean())}**</u>" in rows[1]
    assert "† n=0/3" in rows[2] and rows[2].count("—") == 5
    assert "†" not in rows[0]


def test_a_diverged_run_is_marked_counted_out_of_the_mean_and_listed():
    from gafkd.reporting.make import footer
    from gafkd.reporting.summary import summarize

    runs = fake_runs()
    bad = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-3") & (runs["seed"] == 2)].index
    runs.loc[bad, ["status", "diverged_at", "best_test_acc"]] = ["diverged", "epoch 4, batch 7", np.nan]
    rows = main_table_rows(render_tables(CONFIG, runs, load_reference(), ""))
    assert "† n=2/3" in rows[1] and "| diverged" in rows[1] and "| —" not in rows[1]
    kept = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-3") & (runs["status"] == "ok")]["best_test_acc"]
    assert len(kept) == 2 and f"<u>**{fmt(kept.mean())}**</u>" in rows[1]
    summary = summarize(runs)
    line = summary[(summary["kind"] == "teacher") & (summary["teachers"] == "gaf:wrn16-3")
                   & (summary["metric"] == "best_test_acc")].iloc[0]
    assert line["n"] == 2 and np.isclose(line["mean"], kept.mean())
    text = footer(CONFIG, runs)
    assert "Diverged (1, counted out of the means like missing trials)" in text
    assert f"`{runs.loc[bad[0], 'run_dir']}`: epoch 4, batch 7" in text


def test_reference_comparison_matches_dataset_experiment_teachers_alpha_lam():
    runs = fake_runs()
    tables = DatasetTables(CONFIG, "gene14_w500", runs)
    comparison = tables.reference_table(load_reference())
    lines = comparison.splitlines()[2:]
    assert len(lines) == 4 + 4 + 20  # GAF teachers, kd1 at lam 0.7, kd2 pairs at every alpha
    first = [c.strip() for c in lines[0].split("|")[1:-1]]
    ours = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-1")]["best_test_acc"].mean()
    assert first[1:4] == [fmt(ours), "63.1186", f"{ours - 63.1186:+.4f}"]
    assert DatasetTables(CONFIG, "gene7_w1000", runs).reference_table(load_reference()) is not None
    other = copy.deepcopy(CONFIG)
    other["datasets"] = {"mine": CONFIG["datasets"]["gene14_w500"]}
    assert DatasetTables(other, "mine", fake_runs(datasets=("mine",))).reference_table(load_reference()) is None


def test_every_number_in_the_tables_comes_from_runs():
    runs = fake_runs(datasets=tuple(CONFIG["datasets"]))
    text = render_tables(CONFIG, runs, load_reference(), "")
    allowed = {fmt(v) for v in runs["best_test_acc"]}
    for dataset in CONFIG["datasets"]:
        for row in main_table_rows(text, dataset):
            trials = [c.strip() for c in row.split("|")[2:5]]
            assert set(trials) <= allowed, row
    summary = summarize(runs)
    means = {fmt(v) for v in summary["mean"]} | {fmt(v) for v in summary["std"]}
    cells = re.findall(r"(\d+\.\d{4}) ± (\d+\.\d{4})", text)
    assert cells and all(m in means and s in means for m, s in cells)


def test_editing_one_run_changes_exactly_the_affected_rows():
    runs = fake_runs()
    before = render_tables(CONFIG, runs, load_reference(), "").splitlines()
    target = (runs["kind"] == "kd2") & (runs["teachers"] == "gaf:wrn16-3+sig:wrn16-3") & np.isclose(runs["alpha"], 0.3)
    runs.loc[runs[target & (runs["seed"] == 2)].index, "best_test_acc"] = 99.5
    after = render_tables(CONFIG, runs, load_reference(), "").splitlines()
    changed = [b for a, b in zip(before, after) if a != b]
    # the main-table row, the alpha-sweep row, the notes comparison row; and the dataset's power line, which
    # summarises the spread of every row's differences
    power = [line for line in changed if line.startswith("Power: ")]
    changed = [line for line in changed if not line.startswith("Power: ")]
    assert len(changed) == 3 and len(power) == 1
    assert all("WRN16-3(GAF), T2: WRN16-3(Sig)" in line for line in changed)
    assert "99.5000" in changed[0]


def test_summary_csv():
    runs = fake_runs()
    summary = summarize(runs)
    row = summary[(summary["kind"] == "teacher") & (summary["teachers"] == "gaf:wrn16-1")
                  & (summary["metric"] == "best_test_acc")].iloc[0]
    values = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-1")]["best_test_acc"]
    assert row["n"] == 3 and row["mean"] == pytest.approx(values.mean()) and row["std"] == pytest.approx(values.std(ddof=0))
    assert len(summary) == 2 * (8 + 41)


def test_collect_runs_reads_metrics_and_refuses_corrupt_ones(tmp_path):
    good = tmp_path / "a" / "metrics.json"
    good.parent.mkdir()
    good.write_text(json.dumps({"dataset": "d", "kind": "teacher", "teachers": "gaf:wrn16-1", "student": "",
                                "alpha": None, "lam": None, "seed": 0, "best_test_acc": 50.0, "final_test_acc": 49.0}))
    runs = collect_runs([good])
    assert runs.loc[0, "run_dir"] == str(good.parent) and runs.loc[0, "best_test_acc"] == 50.0
    bad = tmp_path / "b.json"
    bad.write_text('{"dataset": "d", "kind"')
    with pytest.raises(DataError, match="not valid JSON"):
        collect_runs([good, bad])


def test_every_table_says_where_its_data_comes_from():
    real = render_tables(CONFIG, fake_runs(), load_reference(), "")
    assert real.count("Data: real recordings (per-window .mat files in `data/") == 3 and "### Comparison with the notes" in real
    synthetic = {**CONFIG, "datasets": {name: {**d, "source": {"format": "synthetic", "subjects": 8, "seed": 7}}
                                        for name, d in CONFIG["datasets"].items()}}
    text = render_tables(synthetic, fake_runs(), load_reference(), "")
    assert text.count("Data: **synthetic** (the embedded GENEActiv-like generator, 8 subjects, seed 7)") == 3
    # synthetic numbers are never set against the published study's
    assert "### Comparison with the notes" not in text and text.count("No comparison with the notes") == 3
    raw = {**CONFIG, "datasets": {name: {**d, "source": {"format": "geneactiv", "path": "data/bin",
                                                         "annotations": "data/log.csv"}}
                                  for name, d in CONFIG["datasets"].items()}}
    text = render_tables(raw, fake_runs(), load_reference(), "")
    assert text.count("Data: real recordings (GENEActiv .bin files in `data/bin`, labelled by `data/log.csv`)") == 3


def test_the_student_alone_is_the_signal_teacher_trained_once():
    """Same model, data, loss and seeds: no student run, the teacher's runs under both labels."""
    from gafkd.plan.packing import student_packs
    from gafkd.grid import baseline_is_teacher, trained_experiments

    assert baseline_is_teacher(CONFIG)
    assert [e.kind for e in trained_experiments(CONFIG)] == [e.kind for e in experiments(CONFIG)][1:]
    packs = student_packs(CONFIG, "results", "gene14_w500", 4)
    assert not any(m.experiment.kind == "baseline" for p in packs for m in p.members)
    for change in ({"modalities": ["gaf"]}, {"archs": ["wrn16-3"]}, {"seeds": [0, 1]}):
        other = copy.deepcopy(CONFIG)
        other["teachers"].update(change)
        assert not baseline_is_teacher(other), change
        assert trained_experiments(other)[0].kind == "baseline"


def test_baseline_rows_alias_the_teacher_runs(tmp_path):
    paths = []
    for seed, acc in enumerate((61.0, 62.0, 63.0)):
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        metrics = dict(dataset="gene14_w500", kind="teacher", teachers="sig:wrn16-1", seed=seed, best_test_acc=acc,
                       final_test_acc=acc - 1)
        (folder / "metrics.json").write_text(json.dumps(metrics))
        paths.append(folder / "metrics.json")
    runs = collect_runs(paths, CONFIG)
    alone = runs[runs["kind"] == "baseline"]
    assert list(alone["best_test_acc"]) == [61.0, 62.0, 63.0]
    assert set(alone["student"]) == {"sig:wrn16-1"} and set(alone["teachers"]) == {""}
    assert set(alone["trained_as"]) == {"teacher sig:wrn16-1"}
    assert list(alone["run_dir"]) == [str(p.parent) for p in paths]
    assert len(collect_runs(paths)) == 3  # without the config: the runs only

    text = render_tables(CONFIG, runs, load_reference(), "")
    rows = {row.split("|")[1].strip(): row.split("|")[2:-1] for row in main_table_rows(text)}
    assert rows["S: WRN16-1(Sig) alone (500w, 14cls)"] == rows["WRN16-1 (Sig single network, 500w, 14cls)"]
    assert "trained once, as the teacher, and shown in both rows" in text


def test_three_teacher_tables_per_variant_with_the_notes_delta():
    """Real data: a table per variant (a row per triple, a column per arch); base cells carry Δ to the notes."""
    config = copy.deepcopy(CONFIG)
    config["teachers"]["modalities"] = ["gaf", "pi", "sig"]
    config["students"].update({"kd3": {**config["students"]["kd3"], "archs": ["wrn16-1", "wrn16-3"]},
                               "variants": ["base", "ann"], "variant_kinds": ["kd3"]})
    runs = fake_runs(config, seed=3)
    tables = DatasetTables(config, "gene14_w500", runs, load_reference())
    titles = [title for title, _ in tables.weights_tables()]
    assert titles == ["Three teachers, base (mean ± std; 200 epochs a run)",  # an annealed run's start counts
                      "Three teachers, ann (mean ± std; 400 epochs a run: 200 of cross-entropy start, then 200)"]
    base, ann = (table for _, table in tables.weights_tables())
    row = next(line for line in base.splitlines() if line.startswith("| 0.2/0.3/0.5"))
    ours = runs[(runs["kind"] == "kd3") & (runs["weights"] == "0.2/0.3/0.5") & (runs["variant"] == "base")
                & runs["teachers"].str.endswith("wrn16-1")]["best_test_acc"].mean()
    assert f"(Δ {ours - 70.4115:+.2f})" in row.split("|")[2]  # the notes: 70.4115 for WRN16-1 at 0.2/0.3/0.5
    assert "Δ" not in ann  # the notes' numbers are the base variant's
    assert len(base.splitlines()) == 2 + 10  # header, rule, the notes' ten triples
    # 2 variants × 10 triples × 2 archs cells; the notes have numbers for base at both archs' ten triples
    matched = base.count("(Δ ")
    assert tables.cells == 40 and tables.unmatched == 40 - matched and matched > 0
    assert f"{40 - matched} of 40 cells have no such number" in tables.delta_note()
    # a Δ only against the same selection: the notes chose on test, so val-chosen numbers get none
    honest = DatasetTables({**config, "report": {**config["report"], "metric": "val"}}, "gene14_w500",
                           runs.assign(test_acc_at_best_val=runs["best_test_acc"]), load_reference())
    assert not any("(Δ " in table for _, table in honest.weights_tables()) and honest.unmatched == honest.cells == 40
    main = [tables.label(c) for c in tables.main_configs() if c.kind == "kd3"]
    assert [m.split("w = ")[1][:11] for m in main] == ["0.2/0.3/0.5"] * 4  # 2 archs × 2 variants, 14 classes
