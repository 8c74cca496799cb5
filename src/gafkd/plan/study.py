"""The study a config describes, planned once: :class:`Study`.

Everything the workflow (and ``gafkd status``) needs to know about a config — its checked and expanded datasets
(a fold-split dataset as a variant per fold), the image representations and what makes each dataset's, the
teacher and student packs (:mod:`gafkd.plan.packing`), which pack writes each logits and weights file, the
settings each training and report job gets, and the paths every stage shares — decided by the config alone,
never by the host. ``workflow/rules/common.smk`` is this object and one-line input functions over it.

Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass

from ..config import canonical_order, check_config, dataset_settings, report_config, select_datasets, with_defaults
from ..data.build import missing_data_folders
from ..data.formats import is_synthetic
from ..folds import dataset_groups, expand_folds, fold_of, has_folds
from ..grid import dataset_training, for_dataset, image_representations, image_settings, image_source
from ..images.registry import is_image
from ..kinds import KINDS
from ..training.settings import TrainingSettings
from ..training.spec import Pack
from .packing import (check_gpu_sharing, fp32_teacher_note, images_of, images_path, logits_path, pack_manifest,
                      student_packs, teacher_packs)

# The figures every report section gets besides its kinds' sweeps: name → (its caption in workflow/report/, its
# category in the HTML report).
SECTION_FIGURES = {"learning_curves": ("learning_curves", "Learning curves"),
                   "confusion_teacher": ("confusion", "Confusion matrices"),
                   "confusion_student": ("confusion", "Confusion matrices"),
                   "forest": ("forest", "Effects"), "gain_vs_teacher": ("gain_vs_teacher", "Effects")}
SWEEP_CATEGORY = "Sweeps"
# The pack stages: each a rule taking the pack as a wildcard, and the role whose packs it runs.
PACK_STAGES = {"train_teacher": "teachers", "teacher_logits": "teachers", "distill": "students"}


@dataclass(frozen=True)
class Study:
    config: dict  # checked, defaults filled in, folds expanded: what every job's settings come from
    given: dict  # as given (defaults filled in, folds not expanded): the HTML report's own run reads it again
    results: str
    datasets: tuple[str, ...]  # every dataset variant that trains, folds included
    folds: tuple[str, ...]
    read: dict  # the datasets whose windows are read from a source (a fold-split dataset once) → settings
    packs: dict  # role → {(dataset, pack name): Pack}
    images: tuple[str, ...]  # the image representations the teachers use, in config order
    image_settings: dict  # (dataset whose images they are, representation) → what makes them
    logits_pack: dict  # logits file → the teacher pack whose logits job writes it
    weights_pack: dict  # weights file → the manifest of the pack job that writes it
    training: dict  # dataset → its TrainingSettings (the global section with its protocol overlay)
    report_config: dict  # what the report jobs get: the settings that change a number
    sections: dict  # report section → its datasets (a fold-split dataset's folds together)
    fp32_teacher_note: str | None

    @classmethod
    def from_config(cls, config: dict, cards: list[int] = ()) -> "Study":
        """The study of ``config`` (Snakemake's merged config: left as it is). ``cards``: this host's GPUs'
        memory in bytes, for the one check that reads them (packs sharing a GPU must fit it). A ConfigError
        names the key of anything wrong."""
        config, given, folded = checked_config(config)
        results = config["results"].rstrip("/")
        datasets = tuple(config["datasets"])
        folds = tuple(d for d in datasets if fold_of(config["datasets"][d]))
        read = {**{d: dataset_settings(config, d) for d in datasets if d not in folds}, **folded}
        packs = {"teachers": {(d, p.name): p for d in datasets for p in teacher_packs(config, results, d)},
                 "students": {(d, p.name): p for d in datasets for p in student_packs(config, results, d)}}
        check_gpu_sharing(config, [(d, p) for role in packs.values() for (d, _), p in role.items()], list(cards))
        images = tuple(image_representations(config))
        return cls(
            config=config, given=given, results=results, datasets=datasets, folds=folds, read=read, packs=packs,
            images=images,
            # a fold whose images do not depend on its split trains on its dataset's, made once
            image_settings={(image_source(config, d, name), name): image_settings(config, d, name)
                            for d in datasets for name in images},
            logits_pack={logits_path(results, d, f"{m.modality}:{m.arch}", m.seed): name
                         for (d, name), pack in packs["teachers"].items() for m in pack.members},
            # annealed students start from the student alone's weights
            weights_pack={m.outputs["weights"]: pack_manifest(results, d, name, stage)
                          for stage, role in (("train_teacher", "teachers"), ("distill", "students"))
                          for (d, name), pack in packs[role].items() for m in pack.members},
            training={d: TrainingSettings.of(dataset_training(config, d)) for d in datasets},
            report_config=report_config(config, TrainingSettings.of(config["training"]).identity()),
            sections=dataset_groups(config), fp32_teacher_note=fp32_teacher_note(config))

    # -- what the rules read ---------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        return self.config["training"]["device"]

    @property
    def threads(self) -> int:
        return self.config["training"]["threads"]

    def training_params(self, dataset: str) -> dict:
        """A training job's ``training`` param: what of its settings shapes its runs' numbers (the speed-only
        ones the job reads from the config it runs under: changing them retrains nothing)."""
        return self.training[dataset].identity()

    def logits_params(self, dataset: str) -> dict:
        """The logits job's: the same, and the checkpoint students learn from."""
        return {**self.training_params(dataset), "teacher_weights": self.config["training"]["teacher_weights"]}

    def path(self, *parts) -> str:
        """A path inside the results folder."""
        return os.path.join(self.results, *parts)

    def windows_h5(self, dataset: str = "{dataset}") -> str:
        return self.path(dataset, "windows.h5")

    def images_h5(self, dataset: str = "{dataset}", name: str = "{representation}") -> str:
        return images_path(self.results, dataset, name)

    def manifest(self, stage: str, dataset: str = "{dataset}", pack: str = "{pack}") -> str:
        """A pack job's output (``{dataset}``/``{pack}``: the rule's wildcard pattern)."""
        return pack_manifest(self.results, dataset, pack, stage)

    def examples_png(self, dataset: str = "{dataset}", name: str = "{representation}") -> str:
        """One training window per class in a representation (gaf_examples.png: GASF)."""
        return self.path("plots", dataset, f"{name}_examples.png")

    def pack(self, stage: str, dataset: str, name: str) -> Pack:
        return self.packs[PACK_STAGES[stage]][dataset, name]

    def pack_pattern(self, stage: str) -> str:
        """A wildcard constraint matching exactly the names of ``stage``'s packs."""
        return "|".join(sorted({re.escape(name) for _, name in self.packs[PACK_STAGES[stage]]}))

    def fold_settings(self, dataset: str) -> dict:
        return dataset_settings(self.config, dataset)

    def fold_source(self, fold: str) -> str:
        """The windows.h5 a fold's windows.h5 links to: its dataset's."""
        return self.windows_h5(fold_of(self.config["datasets"][fold])["of"])

    def dataset_source(self, dataset: str) -> str | list[str]:
        """The window rule's input: the synthetic folder, or the real data folder (and activity log) when they
        exist. A missing real-data folder is not an input (so `snakemake -n` works before the data is copied); the
        window job then stops with one sentence saying where to put the data."""
        source = self.read[dataset]["source"]
        if is_synthetic(source):
            return self.path(dataset, "source")
        return [p for p in (source["path"], source.get("annotations")) if p and os.path.exists(p)]

    def dataset_folder(self, dataset: str) -> str:
        """Where the window job reads a dataset from: the synthetic folder, or source.path."""
        source = self.read[dataset]["source"]
        return self.path(dataset, "source") if is_synthetic(source) else source["path"]

    def pack_inputs(self, dataset: str, name: str) -> dict:
        """A teacher pack's data: windows.h5, plus its representation's images for image models."""
        first = self.packs["teachers"][dataset, name].members[0]
        inputs = {"windows": self.windows_h5(first.dataset)}
        if is_image(first.modality):
            inputs["images"] = images_of(self.config, self.results, first.dataset, first.modality)
        fold = fold_of(self.config["datasets"][first.dataset])
        if fold:  # the file its windows.h5 links to
            inputs["dataset_windows"] = self.windows_h5(fold["of"])
        return inputs

    def member_files(self, dataset: str, name: str, key: str) -> list[str]:
        """Each member's ``key`` file (metrics, history, weights) of a teacher pack."""
        return [m.outputs[key] for m in self.packs["teachers"][dataset, name].members]

    def member_logits(self, dataset: str, name: str) -> list[str]:
        """Each teacher's cached logits (the path its students read them from)."""
        return [logits_path(self.results, m.dataset, f"{m.modality}:{m.arch}", m.seed)
                for m in self.packs["teachers"][dataset, name].members]

    def teacher_logits_of(self, dataset: str, name: str) -> list[str]:
        """The logits jobs (manifests) of the teacher packs a student pack learns from."""
        paths = {p for m in self.packs["students"][dataset, name].members for p in m.teacher_logits}
        return sorted({self.manifest("teacher_logits", dataset, self.logits_pack[p]) for p in paths})

    def init_of(self, dataset: str, name: str) -> list[str]:
        """The pack jobs whose runs annealed members of a student pack start from."""
        return sorted({self.weights_pack[m.init_from[0]] for m in self.packs["students"][dataset, name].members
                       if m.init_from})

    def live_teachers_of(self, dataset: str, name: str) -> list[str]:
        """Teachers run live (for losses a cache cannot serve): their training jobs (manifests) and their images."""
        live = [t for m in self.packs["students"][dataset, name].members for t in m.live_teachers]
        return sorted({self.weights_pack[weights] for weights, _, _ in live} | {i for _, _, i in live if i})

    def training_manifests(self) -> list[str]:
        """Every training job's output: teacher and student packs."""
        return [self.manifest(stage, d, name) for stage in ("train_teacher", "distill")
                for d, name in self.packs[PACK_STAGES[stage]]]

    def section_windows(self, section: str) -> str:
        """The windows a section's figures name the classes and draw examples from: its first fold's."""
        return self.windows_h5(self.sections[section][0])

    def examples_images(self, section: str, representation: str) -> str:
        """The images an examples figure shows: those the dataset's teachers train on (a section's first fold)."""
        return images_of(self.config, self.results, self.sections[section][0], representation)

    def all_outputs(self) -> list[str]:
        figures = section_figures()
        return [self.path("tables.md"), self.path("summary.csv"), self.path("effects.csv"),
                *[self.path("plots", section, f"{plot}.png") for section in self.sections for plot in figures],
                *[self.examples_png(section, name) for section, members in self.sections.items()
                  for name in for_dataset(self.config, members[0])["teachers"]["modalities"] if is_image(name)]]

    def missing_data(self) -> list[str]:
        """One line per dataset whose real-data folder is missing (a fold-split dataset once)."""
        return missing_data_folders({"datasets": self.read}, self.results)


def section_figures() -> dict[str, tuple[str, str]]:
    """The plots rule's outputs, each report section's figures: name → (caption, category); first each kind's
    sweep figure (in registry order; its caption the figure's own name), then :data:`SECTION_FIGURES`."""
    sweeps = {kind.sweep.plot: (kind.sweep.plot, SWEEP_CATEGORY) for kind in KINDS.values() if kind.sweep}
    return {**sweeps, **SECTION_FIGURES}


def checked_config(config: dict) -> tuple[dict, dict, dict]:
    """(``config`` checked, its defaults filled in and its folds expanded; the same before the folds; the fold-split
    datasets' own settings), ``config`` itself left as it is. A ConfigError names the key of anything wrong."""
    config = copy.deepcopy(config)
    # the schema (types, ranges, unknown keys; its defaults filled in), run.datasets, then what a schema cannot say
    check_config(select_datasets(with_defaults(config)))
    canonical_order(config)  # params compared as text: one key order however the config files were merged
    given = copy.deepcopy(config)
    # fold-split datasets (split.method loso / kfold) become one dataset variant per fold; each is read from its
    # source once, into its own windows.h5, which its folds' windows.h5 link to
    folded = {name: dataset_settings(config, name) for name, settings in config["datasets"].items()
              if has_folds(settings)}
    expand_folds(config)
    canonical_order(config)
    return config, given, folded


def names_pattern(names) -> str:
    """A wildcard constraint matching exactly these names (none: nothing)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"
