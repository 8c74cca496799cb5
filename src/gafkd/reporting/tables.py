"""tables.md: the notes' tables, rendered from runs.csv and nothing else.

Per dataset variant: the main table (``| Experiment (alpha = 0.3, 500w, 14cls) | Trial 1 | … | Mean | Std |``,
four decimals, mean as ``<u>**63.1186**</u>``, population std), the α sweep, the λ sweep and the
comparison with the notes' published numbers. A configuration with fewer finished trials than
configured shows ``—`` for the missing trials and ``diverged`` for runs whose loss turned non-finite
(both counted out of the mean), and is marked ``†`` with its n; the footer lists the diverged runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..classes import class_names
from ..folds import METHOD_TEXT, fold_of
from ..images.registry import SIGNAL
from ..distillation.registry import BASE, KD_FORMS, LOSSES, VARIANTS, WEIGHTINGS, recipe_text, variant_label
from ..grid import experiments, for_dataset, student_model, variants_of
from ..models.families import arch_label
from ..kinds import ALONE_KIND, COMPATIBILITY_KIND, KINDS, TEACHER, is_alone, weights_text
from ..names import DIVERGED, OK, Experiment
from ..images.registry import label as modality_label
from .effects import effect_cell, effects_note, power_line
from .labels import experiment_label, model_label, teachers_label
from .markdown import INCOMPLETE, MARKER_ROOM, markdown_table
from .ranking import ranking_sentence
from .summary import mean_std

METRIC_COLUMN = {"best": "best_test_acc", "final": "final_test_acc", "val": "test_acc_at_best_val"}
METRIC_TEXT = {"best": "best test epoch, chosen on the test set", "val": "epoch chosen on validation",
               "final": "final epoch"}
TEACHER_TEXT = {"best": "best-test-epoch checkpoints, chosen on the test set",
                "best_val": "best-validation-epoch checkpoints", "final": "final-epoch checkpoints"}
MISSING = "—"


@dataclass(frozen=True)
class Config:
    """One row's configuration: what runs.csv rows it gathers and how many seeds it expects."""

    kind: str
    teachers: str
    student: str
    alpha: float | None
    lam: float | None
    seeds: tuple[int, ...]
    weights: tuple[float, ...] | None = None  # of a three- or K-teacher experiment
    variant: str = ""  # a student's (gafkd.distillation.registry.VARIANTS); teachers: ""

    def select(self, runs: pd.DataFrame) -> pd.DataFrame:
        mask = (runs["kind"] == self.kind) & (runs["teachers"] == self.teachers) & (runs["student"] == self.student)
        mask &= _matches(runs["alpha"], self.alpha) & _matches(runs["lam"], self.lam)
        mask &= runs["weights"] == ("" if self.weights is None else weights_text(self.weights))
        mask &= runs["variant"] == self.variant
        return runs[mask]

    def trials(self, runs: pd.DataFrame, metric: str) -> list[float | str | None]:
        """Per configured seed: the metric, ``DIVERGED``, or None (not run yet)."""
        chosen = self.select(runs)
        by_seed = dict(zip(chosen["seed"].astype(int),
                           np.where(chosen["status"] == OK, chosen[METRIC_COLUMN[metric]], DIVERGED)))
        return [None if by_seed.get(seed) is None else
                (DIVERGED if by_seed[seed] == DIVERGED else float(by_seed[seed])) for seed in self.seeds]


def _matches(column: pd.Series, value) -> pd.Series:
    if value is None:
        return column.isna()
    return np.isclose(column.astype(float), float(value), rtol=0, atol=1e-9)


def _reference_weights(c: Config) -> str:
    """``c``'s weights as the notes' reference rows key them: only where the weights are what its kind sweeps."""
    swept = c.kind in KINDS and KINDS[c.kind].swept == "weights"
    return weights_text(c.weights) if swept and c.weights is not None else ""


def fmt(value: float) -> str:
    return f"{value:.4f}"


def finished(values: list[float | str | None]) -> tuple[tuple[float, float] | None, str]:
    """(mean, std) over the finished trials (None if none), and the incompleteness marker."""
    done = [v for v in values if isinstance(v, float)]
    marker = "" if len(done) == len(values) else f" {INCOMPLETE} n={len(done)}/{len(values)}"
    return (mean_std(done) if done else None), marker


def stats_cells(values: list[float | None]) -> tuple[str, str, str]:
    """(mean cell, std cell, incompleteness marker) over the finished trials."""
    stats, marker = finished(values)
    if stats is None:
        return MISSING, MISSING, marker
    return f"<u>**{fmt(stats[0])}**</u>", fmt(stats[1]), marker


def mean_pm_std(values: list[float | None]) -> str:
    stats, marker = finished(values)
    return (MISSING if stats is None else f"{fmt(stats[0])} ± {fmt(stats[1])}") + marker


class DatasetTables:
    """The tables of one dataset variant, from the config's grid and the runs."""

    def __init__(self, config: dict, dataset: str, runs: pd.DataFrame, reference: pd.DataFrame | None = None,
                 members: list[str] | None = None, effects: pd.DataFrame | None = None):
        """``reference``: the notes' numbers, for the Δ of the three-teacher cells (real data only); ``members``:
        the dataset variants gathered as ``dataset`` (a fold-split dataset's folds, :mod:`gafkd.folds`);
        ``effects``: effects.csv (:mod:`gafkd.reporting.effects`), for the main table's Δ vs alone column."""
        self.members = list(members or [dataset])
        settings = config["datasets"][self.members[0]]
        config = for_dataset(config, self.members[0])
        self.config, self.dataset, self.reference = config, dataset, reference
        self.folds = [fold_of(config["datasets"][m]) for m in self.members] if fold_of(settings) else []
        self.runs = runs[runs["dataset"].isin(self.members)]
        self.effects = None if effects is None else effects[effects["dataset"] == dataset]
        self.n_classes = len(class_names(settings["classes"]))
        self.suffix = f"{settings['window']}w, {self.n_classes}cls"
        self.metric = config["report"]["metric"]
        self.cells = self.unmatched = 0  # Δ cells of weights_tables, and those without a matching reference
        students = config["students"]
        self.student = student_model(config)
        self.teacher_seeds = tuple(config["teachers"]["seeds"])
        self.student_seeds = tuple(students["seeds"])
        self.n_trials = max(len(self.teacher_seeds), len(self.student_seeds))

    def trials(self, c: Config) -> list[float | str | None]:
        """``c``'s trials: per configured seed, of each fold in turn (folds × trials)."""
        return [v for m in self.members for v in c.trials(self.runs[self.runs["dataset"] == m], self.metric)]

    def effect(self, c: Config) -> pd.Series | None:
        """``c``'s row of effects.csv (None: no run of it, or no effects given)."""
        if self.effects is None:
            return None
        match = c.select(self.effects)  # effects.csv has runs.csv's configuration columns
        return None if match.empty else match.iloc[0]

    def effect_cell(self, c: Config) -> str:
        """The main table's Δ vs alone: empty for teachers and the student alone."""
        if c.kind == TEACHER or is_alone(c.kind):
            return ""
        effect = self.effect(c)
        return MISSING if effect is None else effect_cell(effect)

    def student_scores(self) -> pd.DataFrame:
        """Each student row of the main table (labelled without the dataset) × each block (fold, seed): its
        accuracy, NaN where not finished — what :mod:`gafkd.reporting.ranking` ranks."""
        configs = [c for c in self.main_configs() if c.kind != TEACHER]
        blocks = [f"{m}:seed{s}" for m in self.members for s in self.student_seeds]
        values = [[v if isinstance(v, float) else np.nan for v in self.trials(c)] for c in configs]
        frame = pd.DataFrame(values, index=[self.label(c, with_dataset=False) for c in configs], columns=blocks)
        return frame[~frame.index.duplicated()]

    # -- the grid, in the notes' order ---------------------------------------------------------
    def main_configs(self) -> list[Config]:
        teachers = self.config["teachers"]
        rows = [Config(TEACHER, f"{m}:{a}", "", None, None, self.teacher_seeds)
                for m in teachers["modalities"] for a in teachers["archs"]]
        chosen = {name: self.chosen(name) for name in KINDS}
        return rows + [self._config(e) for e in experiments(self.config) if KINDS[e.kind].in_main(e, chosen[e.kind])]

    def chosen(self, kind: str):
        """The main tables' value of ``kind``'s swept parameter (None: it sweeps nothing): its ``report`` key, or
        for weights left ``auto`` the notes' choice — 14 classes 0.2/0.3/0.5, 7 classes 0.2/0.2/0.6 — when swept,
        else the first swept."""
        sweep = KINDS[kind].sweep
        if sweep is None:
            return None
        chosen = self.config["report"][sweep.report]
        if chosen != "auto":
            return tuple(chosen) if isinstance(chosen, list) else chosen
        swept = [tuple(w) for w in self.config["students"][kind][sweep.values]]
        notes = (0.2, 0.3, 0.5) if self.n_classes == 14 else (0.2, 0.2, 0.6)
        return notes if any(np.allclose(w, notes) for w in swept if len(w) == 3) else swept[0]

    def weights_tables(self) -> list[tuple[str, str]]:
        """The group's three-teacher tables (each kind whose sweep varies the teacher weights): one per variant, a
        row per weight triple, a column per architecture (mean ± std); with ``reference`` rows (real data), each
        cell also gives Δ to the notes."""
        self.cells = self.unmatched = 0  # counted afresh by each rendering (delta_note reports them)
        tables = []
        for name, kind in KINDS.items():
            block = self.config["students"][name]
            if kind.swept != "weights" or not kind.expand(self.config["students"]):
                continue
            names = "/".join(modality_label(m) for m in block["teachers"])
            for variant in variants_of(self.config, name):
                method, method_label = VARIANTS[variant], variant_label(self.config["students"], variant)
                headers = [f"Weights ({names}; lam = {block['lam']:g}, {method_label}, {self.suffix})",
                           *[f"T: {arch_label(a)} ×{len(block['teachers'])}" for a in block["archs"]]]
                body = []
                # a rule that sets its own weights has one row: the configured triples are not its
                triples = block["weights"] if method.uses_fixed else [()]
                for w in triples:
                    row = [weights_text(w) if w else f"{WEIGHTINGS[method.weighting].label} (per sample)"]
                    for arch in block["archs"]:
                        config = Config(name, "+".join(f"{m}:{arch}" for m in block["teachers"]), self.student, None,
                                        block["lam"], self.student_seeds, tuple(w), variant)
                        row.append(mean_pm_std(self.trials(config)) + self._delta(config))
                    body.append(row)
                tables.append((f"{kind.title.capitalize()}, {method_label} (mean ± std; {self._epochs(method)})",
                               markdown_table(headers, body, CELL_WIDTH["pm"] + 10)))
        return tables

    def _epochs(self, method) -> str:
        """Each run's training, counted with its start's: an annealed run's cross-entropy start is epochs too."""
        epochs = self.config["training"]["epochs"]
        if method.annealed:
            return f"{2 * epochs} epochs a run: {epochs} of cross-entropy start, then {epochs}"
        return f"{epochs} epochs a run"

    def _delta(self, config: Config) -> str:
        """`` (Δ +0.12)`` against the notes' number for this cell (real data only), else nothing. Only a
        reference of the same experiment, variant, λ, student and selection metric counts; the cells
        without one are counted (``self.unmatched``: the tables say how many)."""
        if self.reference is None:
            return ""
        match = self._matching(self.reference[self.reference["dataset"] == self.dataset], config)
        values = [v for v in self.trials(config) if isinstance(v, float)]
        self.cells += 1
        if match.empty or not values:
            self.unmatched += 1
            return ""
        return f" (Δ {mean_std(values)[0] - match.iloc[0]['mean']:+.2f})"

    def _matching(self, ref: pd.DataFrame, c: Config) -> pd.DataFrame:
        """The reference rows (of this dataset) of ``c``'s experiment measured the same way: its teachers,
        weights (three-teacher rows), α, λ, variant, student and this report's selection metric."""
        weights = _reference_weights(c)
        return ref[(ref["experiment"] == c.kind) & (ref["teachers"] == c.teachers) & (ref["weights"] == weights)
                   & _matches(ref["alpha"], c.alpha) & _matches(ref["lambda"], c.lam)
                   & (ref["variant"] == (c.variant or BASE)) & (ref["student"] == c.student)
                   & (ref["metric"] == self.metric)]

    def delta_note(self) -> str | None:
        """How many Δ cells found a matching reference (real data with a reference only)."""
        if self.reference is None or not self.cells:
            return None
        return (f"Δ: against the notes' number of the same experiment, variant, λ, student and selection metric "
                f"(`report.metric: {self.metric}`); {self.unmatched} of {self.cells} cells have no such number "
                "(or no finished run) and show none.")

    def _config(self, e) -> Config:
        kind = KINDS[e.kind]
        return Config(e.kind, "+".join(e.teachers), self.student, e.alpha, None if kind.alone else e.lam,
                      self.student_seeds, e.weights if kind.weighted and e.weights else None, e.variant)

    def label(self, c: Config, with_dataset: bool = True) -> str:
        label = experiment_label(c.kind, c.teachers, c.student, self.suffix if with_dataset else None, c.weights)
        if is_alone(c.kind) and c.variant and VARIANTS[c.variant].annealed:  # students.compute_matched
            epochs = self.config["training"]["epochs"]
            return label + f" [compute-matched: {epochs} + {epochs} epochs, as an annealed student]"
        several = len(variants_of(self.config, c.kind)) > 1
        shown = c.variant and (c.variant != BASE or several)
        return label + (f" [{variant_label(self.config['students'], c.variant)}]" if shown else "")

    def diagnostics(self, ranked: pd.DataFrame) -> list[str]:
        """The lines under the main table: what Δ is and how many rows hold, the power line, the ranking, the
        optimism of test-set selection and the figures that show them."""
        lines = []
        if self.effects is not None and len(self.effects):
            lines += [effects_note(self.effects), power_line(self.effects, self.config["report"]["power_effect"])]
        mine = ranked[ranked["scope"] == self.dataset]
        if len(mine):
            lines.append(ranking_sentence(mine))
        optimism = optimism_line(self.runs)
        if optimism:
            lines.append(optimism)
        pooled = f" (pooled over the {len(self.members)} folds)" if self.folds else ""
        lines.append(f"Figures{pooled}: `plots/{self.dataset}/forest.png` (each configuration's Δ with its interval), "
                     f"`plots/{self.dataset}/gain_vs_teacher.png` (Δ against the teachers' accuracy).")
        return [line for text in lines for line in (text, "")][:-1]

    # -- tables --------------------------------------------------------------------------------
    def main_table(self) -> str:
        if self.folds:
            return self.pooled_table()
        alpha = format(self.config["report"]["alpha"], "g")
        headers = [f"Experiment (alpha = {alpha}, {self.suffix})", *[f"Trial {i + 1}" for i in range(self.n_trials)],
                   "Mean", "Std", "n", EFFECT_HEADER]
        body = []
        for c in self.main_configs():
            values = self.trials(c)
            mean, std, marker = stats_cells(values)
            cells = [fmt(v) if isinstance(v, float) else (v or MISSING) for v in values]
            cells += [""] * (self.n_trials - len(cells))
            done = sum(isinstance(v, float) for v in values)
            body.append([self.label(c) + marker, *cells, mean, std, str(done), self.effect_cell(c)])
        widths = [CELL_WIDTH["trial"]] * self.n_trials + [CELL_WIDTH["mean"], CELL_WIDTH["trial"], len("n"),
                                                          CELL_WIDTH["effect"]]
        return markdown_table(headers, body, widths)

    def pooled_table(self) -> str:
        """A fold-split dataset's main table: each row's mean and population std over folds × trials."""
        alpha = format(self.config["report"]["alpha"], "g")
        headers = [f"Experiment (alpha = {alpha}, {self.suffix})", "Runs (folds × trials)", "Mean", "Std",
                   EFFECT_HEADER]
        body = []
        for c in self.main_configs():
            values = self.trials(c)
            mean, std, _ = stats_cells(values)
            done = sum(isinstance(v, float) for v in values)
            body.append([self.label(c), f"{done}/{len(values)}", mean, std, self.effect_cell(c)])
        return markdown_table(headers, body, [len("Runs (folds × trials)"), CELL_WIDTH["mean"], CELL_WIDTH["trial"],
                                         CELL_WIDTH["effect"]])

    def fold_table(self) -> str | None:
        """Beside the pooled table: each fold's mean ± std over its trials (a column per fold)."""
        if not self.folds:
            return None
        headers = [f"Experiment ({self.suffix})", *[f"Fold {f['id']} (test: {' '.join(f['held_out'])})"
                                                    for f in self.folds]]
        body = [[self.label(c), *[mean_pm_std(c.trials(self.runs[self.runs["dataset"] == m], self.metric))
                                  for m in self.members]] for c in self.main_configs()]
        return markdown_table(headers, body, CELL_WIDTH["pm"])

    def folds_note(self) -> str | None:
        if not self.folds:
            return None
        trials = max(len(self.teacher_seeds), len(self.student_seeds))
        held = ", ".join(" ".join(f["held_out"]) for f in self.folds)
        return (f"Folds: {METHOD_TEXT[self.folds[0]['method']]}, {len(self.folds)} folds (test subjects: {held}) × "
                f"{trials} trial{'s' if trials != 1 else ''} = {len(self.folds) * trials} runs a row; mean and population std (ddof = 0) over "
                "all of them. Each fold is the dataset variant `{dataset}_fold<id>` (its windows, teachers and "
                "students); the per-fold table gives each fold's mean ± std over its trials.".replace(
                    "{dataset}", self.dataset))

    def protocol_note(self) -> str:
        """The dataset's protocol values: the λ, α, weights and β its rows use (its own overlays, if any)."""
        s, report = self.config["students"], self.config["report"]
        parts = []
        parts += [text for name, kind in KINDS.items() if kind.sweep and (text := kind.note(s[name], self.chosen(name)))]
        losses = {loss: LOSSES[loss] for v in s["variants"] for loss in VARIANTS[v].losses if LOSSES[loss].coefficient}
        parts += [f"{loss.label} weight {loss.coefficient} = {s[loss.coefficient]:g}" for loss in losses.values()]
        training = self.config["training"]
        scaling = training.get("signal_scaling", "none")
        parts += [f"KD form: {LOSSES[KD_FORMS[s['kd_loss']]].label}, τ = {s['temperature']:g}",
                  f"cross-entropy {training.get('cross_entropy', 'plain')}",
                  f"inputs standardised {STANDARDISATION_TEXT[training.get('standardisation', 'pooled')]}",
                  "signals " + ("in their units" if scaling == "none" else
                                "scaled to [0, 1] by fixed limits and clipped (the lab's)"),
                  f"batch {training['batch_size']}"]
        parts += [text for v in s["variants"] if (text := recipe_text(s, v))]
        return f"Protocol: {'; '.join(parts)}." if parts else ""

    def sweep_tables(self) -> list[tuple[str, str]]:
        """(heading, table) of each kind sweeping λ or α: a row per teacher set (in the grid's order), a
        ``mean ± std`` column per swept value, in the variant :meth:`sweep_variant` shows."""
        tables = []
        for name, kind in KINDS.items():
            if kind.swept not in ("lam", "alpha"):
                continue
            block, variant, student = self.config["students"][name], self.sweep_variant(name), self.student
            rows: dict[str, dict] = {}
            for e in experiments(self.config):
                if e.kind == name and e.variant == variant:
                    rows.setdefault("+".join(e.teachers), {})[getattr(e, kind.swept)] = self._config(e)
            if not rows:
                continue
            values = block[kind.sweep.values]
            label = (lambda t: f"{teachers_label(t)}, S: {model_label(student)}") if kind.sweep.with_student \
                else teachers_label
            headers = [kind.sweep.table.format(**block, suffix=self.suffix), *[f"{kind.swept} = {v:g}" for v in values]]
            body = [[label(teachers), *[mean_pm_std(self.trials(configs[v])) if v in configs else MISSING
                                        for v in values]] for teachers, configs in rows.items()]
            tables.append((kind.sweep.section, markdown_table(headers, body, CELL_WIDTH["pm"])))
        return tables

    def sweep_variant(self, kind: str) -> str:
        """The variant a sweep table shows: base, else the first of ``kind``'s variants whose weights are the
        configured ones (a sweep over α varies those)."""
        variants = variants_of(self.config, kind)
        return BASE if BASE in variants else next(
            (v for v in variants if VARIANTS[v].uses_fixed), variants[0])

    def reference_table(self, reference: pd.DataFrame) -> str | None:
        ref = reference[reference["dataset"] == self.dataset]
        body = []
        configs = self.main_configs() + self._sweep_configs()
        seen = set()
        for c in configs:
            weights = _reference_weights(c)
            match = self._matching(ref, c)
            if match.empty or (c.kind, c.teachers, c.alpha, c.lam, weights) in seen:
                continue
            seen.add((c.kind, c.teachers, c.alpha, c.lam, weights))
            notes = match.iloc[0]
            values = [v for v in self.trials(c) if isinstance(v, float)]
            if values:
                mean, std = mean_std(values)
                ours = [fmt(mean), fmt(std), f"{mean - notes['mean']:+.4f}"]
            else:
                ours = [MISSING, MISSING, MISSING]
            label = self.label(c) + (f", alpha = {c.alpha:g}" if c.alpha is not None else "")
            body.append([label, ours[0], fmt(notes["mean"]), ours[2], ours[1], fmt(notes["std"]), notes["source"]])
        if not body:
            return None
        headers = ["Experiment", "Mean (runs)", "Mean (notes)", "Δ (runs − notes)", "Std (runs)", "Std (notes)",
                   "Notes"]
        return markdown_table(headers, body, [CELL_WIDTH["trial"] + 1] * 5 + [len("notes 2025-03-14 (corrected split)")])

    def compatibility_table(self) -> str | None:
        """Teacher family × student family (``students.compatibility``): one-teacher KD from each image teacher to
        each student architecture, and each student alone (mean ± std)."""
        table = self.config["students"]["compatibility"]
        if not table["archs"]:
            return None
        representation, lam, alone = table["representation"], table["lam"], Experiment(ALONE_KIND).variant
        headers = [f"Teacher (one-teacher KD, lam = {lam:g}, {self.suffix})",
                   *[f"S: {model_label(f'{SIGNAL}:{a}')}" for a in table["archs"]]]
        body = [["none (the student alone)", *[mean_pm_std(self.trials(Config(
            ALONE_KIND, "", f"{SIGNAL}:{a}", None, None, self.student_seeds, None, alone))) for a in table["archs"]]]]
        for teacher in (f"{representation}:{t}" for t in self.config["teachers"]["archs"]):
            body.append([teachers_label(teacher), *[mean_pm_std(self.trials(Config(
                COMPATIBILITY_KIND, teacher, f"{SIGNAL}:{a}", None, lam, self.student_seeds, None, BASE)))
                for a in table["archs"]]])
        return markdown_table(headers, body, CELL_WIDTH["pm"])

    def _sweep_configs(self) -> list[Config]:
        return [self._config(e) for e in experiments(self.config) if KINDS[e.kind].swept in ("lam", "alpha")]


STANDARDISATION_TEXT = {"pooled": "by the training rows' pooled std",
                         "window": "by the mean per-window std (the lab's)"}
CELL_WIDTH = {"trial": len("100.0000"), "mean": len("<u>**100.0000**</u>"), "pm": len("100.0000 ± 100.0000") + MARKER_ROOM,
              "effect": len("+100.00 [+100.00, +100.00] *")}
EFFECT_HEADER = "Δ vs alone [95 % CI]"


def optimism_line(runs: pd.DataFrame) -> str | None:
    """How much choosing the epoch on the test set adds, on average, over a dataset's runs with a validation
    split (None without one)."""
    with_val = runs[(runs["status"] == OK) & runs["test_acc_at_best_val"].notna() & (runs["trained_as"] == "")]
    if with_val.empty:
        return None
    return (f"The optimism of selecting on the test set: best test epoch {with_val['best_test_acc'].mean():.4f}, "
            f"epoch chosen on validation {with_val['test_acc_at_best_val'].mean():.4f}, final epoch "
            f"{with_val['final_test_acc'].mean():.4f} (mean test accuracy in %, every run of the dataset): "
            f"selecting on the test set adds "
            f"{(with_val['best_test_acc'] - with_val['test_acc_at_best_val']).mean():+.4f} points ({len(with_val)} runs).")
