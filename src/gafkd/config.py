"""Checks of config.yaml that a JSON schema cannot express, and the settings each stage digests.

The Snakefile validates the schema first (types, ranges, unknown keys), then calls
:func:`check_config`; both stop the workflow before any job runs, naming the offending key.
"""

from __future__ import annotations

import copy

import yaml

from .classes import LABEL_MAPS, class_names
from .data.formats import channel_count, check_settings as check_source_settings, is_synthetic, source_format
from .distillation.registry import VARIANTS
from .errors import ConfigError
from .folds import FOLD_METHODS, fold_plan
from .schema import SCHEMA, load_schema
from .images.registry import SIGNAL, representation
from .images.scaling import check_limits
from .kinds import ALONE_KIND, KINDS
from .grid import GRID_SECTIONS, IMAGE_KEYS, for_dataset
from .models.families import family_of
from .names import ModelId

SYNTHETIC_DEFAULTS = {"subjects": 12, "seconds_per_activity": 40.0, "seed": 0, "write_as": "parquet"}


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing duplicate keys (PyYAML keeps the last one silently)."""


def _construct_unique_mapping(loader, node, deep=False):
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise ConfigError(f"{key_node.start_mark.name}, line {key_node.start_mark.line + 1}: "
                              f"duplicate key {key!r} (each dataset and setting may appear once)")
        keys.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def read_config_file(path):
    """A config file parsed as data only; malformed YAML and duplicate keys are a :class:`ConfigError`
    naming the file, line and column (Snakemake's own message names neither)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_UniqueKeyLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        start = error.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            problem += f" (it began on line {start.line + 1})"
        raise ConfigError(f"{where}: not valid YAML: {problem} (check brackets, quotes and indentation there; "
                          "tabs are not allowed)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None


def check_duplicate_keys(path) -> None:
    """Parse a config file as data only: malformed YAML and duplicate keys are errors."""
    read_config_file(path)


# Values a release removed, and what to write instead (the schema's own message would only list values).
REMOVED = {("training", "device", "auto"): "auto was removed: packs and GPU resources are planned from the config, "
                                            "never from the host running Snakemake; write cuda (GPU jobs) or cpu"}

# Sections a release moved, and where they went.
MOVED = {"gaf": "moved to images (image_size, dtype, chunk_size): every image representation reads them; "
                "gaf is GASF, and GADF is the representation gadf (teachers.modalities)"}


# What ``selection`` sets (unless the key itself is given): the one place the switch is defined.
SELECTIONS = {"test": {("report", "metric"): "best", ("training", "teacher_weights"): "best"},
              "val": {("report", "metric"): "val", ("training", "teacher_weights"): "best_val"}}
TEST_CHOSEN = "best"  # the teacher checkpoint the test set chose


def with_defaults(config: dict) -> dict:
    """``config`` validated against the schema, its defaults filled in (in place): the config as the
    workflow sees it. The schema is the one place defaults are stated.

    An invalid config raises :class:`ConfigError` with one line: the key and what is wrong with it
    (not the schema dump jsonschema's own message carries).
    """
    import jsonschema
    from snakemake.utils import validate

    for section, message in MOVED.items():
        if section in config:
            raise ConfigError(f"{section}: {message}")
    for (section, key, value), message in REMOVED.items():
        if config.get(section, {}).get(key) == value:
            raise ConfigError(f"{section}.{key}: {message}")
    schema = load_schema()
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message if len(error.message) < 200 else error.message[:200] + " …"
        raise ConfigError(f"{key}: {message} (allowed keys and values: {SCHEMA.relative_to(SCHEMA.parents[1])})")
    given = {(section, key) for section, key in SELECTIONS["test"] if key in (config.get(section) or {})}
    validate(config, str(SCHEMA), set_default=True)
    for (section, key), value in SELECTIONS[config["selection"]].items():
        if (section, key) not in given:
            config[section][key] = value
    return config


def dataset_settings(config: dict, name: str) -> dict:
    """The dataset's settings with defaults filled in: everything that defines its windows.h5."""
    settings = copy.deepcopy(config["datasets"][name])
    for section in (*GRID_SECTIONS, *IMAGE_KEYS):  # which models learn from the windows, and how images
        settings.pop(section, None)  # scale them, is not what defines them
    settings.setdefault("stride", settings["window"])
    settings.setdefault("sampling_rate", 100)
    settings.setdefault("label_map", None)
    split = settings["split"]
    split.setdefault("method", "subject")
    split.setdefault("seed", 0)
    if is_synthetic(settings["source"]):
        for key, value in SYNTHETIC_DEFAULTS.items():
            settings["source"].setdefault(key, value)
        settings["source"].pop("path", None)  # an overlay may leave the real-data path behind
    settings["source"] = source_format(settings["source"]).with_defaults(settings["source"])
    return settings


def report_config(config: dict, training: dict) -> dict:
    """What the report rules get: the config less its speed-only settings (``training``: the run
    identity's), each dataset as it defines its windows (not what an overlay left behind, such as a
    real-data path) with its own grid (teachers / students overlays)."""
    def dataset(name):
        own = config["datasets"][name]
        return {**dataset_settings(config, name), **{k: own[k] for k in GRID_SECTIONS if k in own}}

    # the teachers' checkpoint changes the students' numbers (the tables' header names it)
    training = {**training, "teacher_weights": config["training"]["teacher_weights"]}
    return {**config, "training": training, "datasets": {name: dataset(name) for name in config["datasets"]}}


def canonical_order(config: dict) -> dict:
    """Sort the keys of every mapping in ``config`` (in place), except the order of the dataset variants.

    Snakemake compares a job's params with the last run's as text: the same settings merged from
    ``--configfile demo.yaml`` or from ``--configfile config.yaml demo.yaml`` come in another key order,
    and would look changed. (The variants keep the user's order: the tables follow it.)
    """
    def ordered(value):
        if isinstance(value, dict):
            return {key: ordered(value[key]) for key in sorted(value, key=str)}
        if isinstance(value, list):
            return [ordered(v) for v in value]
        return value

    datasets = {name: ordered(settings) for name, settings in config.get("datasets", {}).items()}
    sorted_config = ordered({k: v for k, v in config.items() if k != "datasets"})
    config.clear()
    config.update(sorted_config)
    if datasets:
        config["datasets"] = datasets
    return config


def select_datasets(config: dict) -> dict:
    """Keep only the variants ``run.datasets`` names (all when it is absent), in place; unknown names are errors.

    An overlay cannot delete a key of config.yaml, so this is how a lab with part of the data runs part
    of the study: ``run: {datasets: [gene14_w500]}``.
    """
    chosen = config.get("run", {}).get("datasets")
    if chosen:
        unknown = [name for name in chosen if name not in config["datasets"]]
        if unknown:
            raise ConfigError(f"run.datasets: {unknown} are not under datasets (known: {sorted(config['datasets'])})")
        config["datasets"] = {name: config["datasets"][name] for name in chosen}
    return config


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` naming the first inconsistent key (``config``: schema-validated)."""
    image_size = config["images"]["image_size"]
    for name in config["datasets"]:
        _check_dataset(dataset_settings(config, name), f"datasets.{name}", image_size)
        check_limits(config["datasets"][name].get("limits"), f"datasets.{name}.limits",
                     channel_count(config["datasets"][name]["source"]))
    _check_training(config["training"])
    _check_measured_widths(config["packing"].get("measured", {}))
    for name in config["datasets"]:
        _check_grid(config, name)
    _check_validation(config)


def _check_grid(config: dict, dataset: str) -> None:
    """The teachers and students of ``dataset`` (the global sections, or its overlays of them)."""
    import jsonschema

    own = config["datasets"][dataset]
    view = for_dataset(config, dataset)
    overlaid = [section for section in GRID_SECTIONS if section in own]
    prefix = lambda section: f"datasets.{dataset}.{section}" if section in overlaid else section  # noqa: E731
    schema = load_schema()
    for section in overlaid:
        merged_schema = {**schema["properties"][section], "definitions": schema["definitions"]}
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(merged_schema).iter_errors(view[section]))
        if error is not None:
            key = ".".join([prefix(section), *(str(p) for p in error.absolute_path)])
            raise ConfigError(f"{key}: {error.message[:200]}")
    teachers, students = view["teachers"], view["students"]
    for i, modality in enumerate(teachers["modalities"]):
        if modality != SIGNAL:
            representation(modality, f"{prefix('teachers')}.modalities[{i}]")
    images = [m for m in teachers["modalities"] if m != SIGNAL]
    for arch in teachers["archs"]:
        if images and 2 not in family_of(arch, f"{prefix('teachers')}.archs").dims:
            raise ConfigError(f"{prefix('teachers')}.archs: {arch} is for signals only (1-D), and the teachers include "
                              f"images ({', '.join(images)}); train it where teachers.modalities is [sig] (a dataset "
                              "variant's overlay)")
    family_of(students["arch"], f"{prefix('students')}.arch")
    _check_students(students, teachers, prefix("students"))
    _check_report(view["report"], students, prefix("students"))


def _check_dataset(settings: dict, key: str, image_size: int) -> None:
    source = settings["source"]
    if not is_synthetic(source) and not source.get("path"):
        raise ConfigError(f"{key}.source.path: required for format {source['format']!r}")
    check_source_settings(settings, key)
    class_names(settings["classes"], f"{key}.classes")
    label_map = settings.get("label_map")
    if isinstance(label_map, str) and label_map not in LABEL_MAPS:
        raise ConfigError(f"{key}.label_map: unknown preset {label_map!r}")
    if settings["window"] < image_size:
        raise ConfigError(f"{key}.window: {settings['window']} samples is smaller than images.image_size ({image_size})")
    split = settings["split"]
    if split["method"] in FOLD_METHODS:
        fold_plan(key.split(".", 1)[1], settings)  # the subjects must be known and foldable
        return
    needed = ("train_subjects", "test_subjects") if split["method"] == "subjects" else ("train", "test")
    for field in needed:
        if field not in split:
            raise ConfigError(f"{key}.split.{field}: required for split method {split['method']!r}")
    if split["method"] != "subjects" and split["train"] + split["test"] > 1 + 1e-9:
        raise ConfigError(f"{key}.split: train + test = {split['train'] + split['test']:g} exceeds 1")
    if split["method"] != "subjects" and split.get("val", 0) >= split["train"]:
        raise ConfigError(f"{key}.split.val: {split['val']:g} is taken from the training windows, so it must be "
                          f"below train ({split['train']:g})")


def _check_training(training: dict) -> None:
    from .training.schedule import milestones

    steps, spec = training["lr_steps"], training["lr_milestones"]
    if len(spec) != len(steps):
        raise ConfigError(f"training.lr_milestones: {len(spec)} milestones for {len(steps)} lr_steps")
    epochs = milestones(training["epochs"], spec)
    if list(epochs) != sorted(epochs):
        raise ConfigError(f"training.lr_milestones: {list(spec)} must not decrease (epochs {list(epochs)})")


def _check_measured_widths(measured: dict) -> None:
    """Every model ``gafkd bench --pack-widths`` recorded is one the registries know (a misspelt one would
    silently fall back to the default width); students train on signals."""
    for device, roles in measured.items():
        for role in ("teachers", "students"):
            for model in roles.get(role, {}):
                key = f"packing.measured.{device}.{role}.{model}"
                if ModelId.parse(model, key).modality != SIGNAL and role == "students":
                    raise ConfigError(f"{key}: students train on signals (sig:arch)")


def _check_students(students: dict, teachers: dict, key: str = "students") -> None:
    trained = {str(ModelId(m, a)) for m in teachers["modalities"] for a in teachers["archs"]}
    seeds = set(teachers["seeds"])
    fixed = students["teacher_seed"]
    needed_seeds = set(students["seeds"]) if fixed == "same" else {fixed}
    taught = any(kind.expand(students) for kind in KINDS.values() if not kind.alone)
    if taught and not needed_seeds <= seeds:
        raise ConfigError(f"{key}.teacher_seed: teacher seeds {sorted(needed_seeds - seeds)} are not in teachers.seeds")
    for kind in KINDS.values():
        kind.check(students, lambda teacher, where: _require(teacher, trained, where), key)
    table = students["compatibility"]
    for i, arch in enumerate(table["archs"]):
        family_of(arch, f"{key}.compatibility.archs[{i}]")
    if table["archs"]:
        representation(table["representation"], f"{key}.compatibility.representation")
        for arch in teachers["archs"]:
            _require(f"{table['representation']}:{arch}", trained, f"{key}.compatibility.representation")
    varied = [k for k in students["variant_kinds"] if KINDS[k].expand(students)]
    annealed = [v for v in students["variants"] if VARIANTS[v].annealed]
    if annealed and varied and not KINDS[ALONE_KIND].expand(students):
        raise ConfigError(f"{key}.variants: {', '.join(annealed)} start(s) each student from the student alone, "
                          f"which {key}.{ALONE_KIND}: false does not train")


def _check_report(report: dict, students: dict, where: str = "students") -> None:
    """The report keys that pick the main tables' rows of a swept kind (report.lam, report.alpha,
    report.kd3_weights): a value no run has would drop those rows silently."""
    for name, kind in KINDS.items():
        sweep = kind.sweep
        if sweep is None or not kind.expand(students) or report[sweep.report] == "auto":
            continue
        chosen, values = report[sweep.report], students[name][sweep.values]
        if not any(_same(chosen, value) for value in values):
            shown = f"{chosen:g}" if isinstance(chosen, (int, float)) else chosen
            raise ConfigError(f"report.{sweep.report}: {shown} is not one of the swept values {sorted(values)} "
                              f"({where}.{name}.{sweep.values}); the main tables would have no {kind.title} rows")


def _same(chosen, value) -> bool:
    """A report value and a swept one: numbers, or weight lists of the same length, equal within 1e-9."""
    pairs = list(zip(chosen, value)) if isinstance(chosen, list) else [(chosen, value)]
    lengths = len(chosen) == len(value) if isinstance(chosen, list) else True
    return lengths and all(abs(a - b) < 1e-9 for a, b in pairs)


def _check_validation(config: dict) -> None:
    """Choosing on validation (the report's epoch, or the teachers' weights) needs a validation split; honest
    numbers from teachers the test set chose are refused unless explicitly allowed."""
    def has_val(name):
        split = config["datasets"][name]["split"]
        return bool(split.get("val") or split.get("val_subjects"))

    report, training = config["report"], config["training"]
    for key, value in (("selection", config["selection"] == "val"),
                       ("report.metric", report["metric"] == "val"),
                       ("training.teacher_weights", training["teacher_weights"] == "best_val")):
        missing = [name for name in config["datasets"] if not has_val(name)] if value else []
        if missing:
            raise ConfigError(f"{key}: chooses on the validation set, but datasets {missing} have no validation "
                              f"split (datasets.{missing[0]}.split.val)")
    if report["metric"] == "val" and training["teacher_weights"] == TEST_CHOSEN \
            and not report["allow_test_selected_teachers"]:
        raise ConfigError("training.teacher_weights: best gives the students teachers chosen on the test set, so the "
                          "validation-chosen numbers of report.metric: val would not be honest; use selection: val "
                          "(or teacher_weights: best_val), or set report.allow_test_selected_teachers: true, which "
                          "the tables' header then states")


def _require(teacher: str, trained: set, key: str) -> None:
    ModelId.parse(teacher, key)
    if teacher not in trained:
        raise ConfigError(f"{key}: teacher {teacher!r} is not trained (teachers.modalities × teachers.archs)")
