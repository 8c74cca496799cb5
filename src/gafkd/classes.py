"""Activity class sets of the study and the mapping from source labels to class indices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import ConfigError, DataError

# The 14 activities of the protocol, 0-based order (protocol.md).
GENE14 = (
    "Treadmill 2 mph 0%",
    "Treadmill 3 mph 0%",
    "Treadmill 3 mph 5%",
    "Treadmill 4 mph 0%",
    "Treadmill 6 mph 0%",
    "Treadmill 6 mph 5%",
    "Seated fold/stack laundry",
    "Stand fidget with hands",
    "Brush teeth/hair",
    "Drive car",
    "Hard-surface walk",
    "Carpet walk (high heels/dress shoes)",
    "Walk up stairs",
    "Walk down stairs",
)

# The group's 7-class grouping is not recorded (protocol.md). This default groups activities by
# what a wrist sees: treadmill walking, treadmill running, overground walking, stairs, seated hand
# work, standing hand work, driving. Replace it with `label_map` in config.yaml.
GENE7 = (
    "Treadmill walk",
    "Treadmill run",
    "Overground walk",
    "Stairs",
    "Seated hand work",
    "Standing hand work",
    "Drive car",
)

GENE14_TO_GENE7 = {
    "Treadmill 2 mph 0%": "Treadmill walk",
    "Treadmill 3 mph 0%": "Treadmill walk",
    "Treadmill 3 mph 5%": "Treadmill walk",
    "Treadmill 4 mph 0%": "Treadmill walk",
    "Treadmill 6 mph 0%": "Treadmill run",
    "Treadmill 6 mph 5%": "Treadmill run",
    "Seated fold/stack laundry": "Seated hand work",
    "Stand fidget with hands": "Standing hand work",
    "Brush teeth/hair": "Standing hand work",
    "Drive car": "Drive car",
    "Hard-surface walk": "Overground walk",
    "Carpet walk (high heels/dress shoes)": "Overground walk",
    "Walk up stairs": "Stairs",
    "Walk down stairs": "Stairs",
}

# PAMAP2's activity IDs (its documentation) and the group's 12 classes: these IDs, in this class order.
PAMAP2_ACTIVITIES = {0: "transient", 1: "lying", 2: "sitting", 3: "standing", 4: "walking", 5: "running",
                     6: "cycling", 7: "Nordic walking", 9: "watching TV", 10: "computer work", 11: "car driving",
                     12: "ascending stairs", 13: "descending stairs", 16: "vacuum cleaning", 17: "ironing",
                     18: "folding laundry", 19: "house cleaning", 20: "playing soccer", 24: "rope jumping"}
PAMAP2_GROUP = (24, 1, 2, 3, 4, 5, 6, 7, 12, 13, 16, 17)
PAMAP2_12 = tuple(PAMAP2_ACTIVITIES[a] for a in PAMAP2_GROUP)

CLASS_SETS = {"gene14": GENE14, "gene7": GENE7, "pamap2": PAMAP2_12}
LABEL_MAPS = {"gene14_to_gene7": (GENE14, GENE14_TO_GENE7)}


def class_names(spec: str | Sequence[str], key: str = "classes") -> tuple[str, ...]:
    """Resolve a class-set preset name or an explicit list of names."""
    if isinstance(spec, str):
        if spec not in CLASS_SETS:
            raise ConfigError(f"{key}: unknown class set {spec!r}; use one of {sorted(CLASS_SETS)} or a list of names")
        return CLASS_SETS[spec]
    names = tuple(str(n) for n in spec)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"{key}: needs at least two distinct class names, got {list(names)}")
    return names


class LabelMapper:
    """Maps raw source labels (integers with a base, or names) to class indices.

    Integer labels are first made 0-based with ``class_base``; when a ``label_map`` is given the
    0-based integer indexes its source class list (or a name is looked up directly) and is then
    mapped to a target class name. Without a map, integers are class indices and names must be
    class names (case-insensitive).
    """

    def __init__(self, names: Sequence[str], label_map: str | Mapping | None = None, class_base: int = 0):
        self.names = tuple(names)
        self._by_name = {n.casefold(): i for i, n in enumerate(self.names)}
        self.class_base = class_base
        self.source_names: tuple[str, ...] | None = None
        self.mapping: dict[str, str] | None = None
        if isinstance(label_map, str):
            if label_map not in LABEL_MAPS:
                raise ConfigError(f"label_map: unknown preset {label_map!r}; use one of {sorted(LABEL_MAPS)} or a mapping")
            self.source_names, self.mapping = LABEL_MAPS[label_map]
        elif label_map is not None:
            self.mapping = {str(k): str(v) for k, v in dict(label_map).items()}
        if self.mapping is not None:
            bad = sorted({v for v in self.mapping.values() if v.casefold() not in self._by_name})
            if bad:
                raise ConfigError(f"label_map: targets {bad} are not among the classes {list(self.names)}")

    def n_source_classes(self) -> int:
        return len(self.source_names) if self.source_names is not None else len(self.names)

    def __call__(self, raw, where: str) -> int:
        """Class index of one raw label; ``where`` names the file for the error message."""
        key = self._source_key(raw, where)
        if self.mapping is not None:
            target = self._lookup(self.mapping, key)
            if target is None:
                raise DataError(f"{where}: label {raw!r} is not in label_map (known: {sorted(self.mapping)[:20]})")
            key = target
        if isinstance(key, int):
            if 0 <= key < len(self.names):
                return key
            raise DataError(f"{where}: unknown class {raw!r}: with class_base={self.class_base} it maps to index {key}, "
                            f"outside 0..{len(self.names) - 1}")
        index = self._by_name.get(str(key).casefold())
        if index is None:
            raise DataError(f"{where}: unknown class {raw!r}; known classes: {list(self.names)}")
        return index

    def _source_key(self, raw, where: str):
        """Integer labels become 0-based ints (or source names under a preset map); names stay names."""
        as_int = _as_int(raw)
        if as_int is None:
            return str(raw).strip()
        index = as_int - self.class_base
        if self.source_names is not None:
            if not 0 <= index < len(self.source_names):
                raise DataError(f"{where}: unknown class {raw!r}: outside the {len(self.source_names)} source classes")
            return self.source_names[index]
        if self.mapping is not None:
            return str(index)
        return index

    @staticmethod
    def _lookup(mapping: Mapping[str, str], key):
        if str(key) in mapping:
            return mapping[str(key)]
        folded = {k.casefold(): v for k, v in mapping.items()}
        return folded.get(str(key).casefold())


def _as_int(raw) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if hasattr(raw, "dtype") and getattr(raw.dtype, "kind", "") in "iu":
        return int(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def detect_class_base(labels: Sequence[int], n_classes: int, where: str) -> int:
    """0 or 1 from the integer labels seen, or a clear error when that is ambiguous."""
    lo, hi = min(labels), max(labels)
    if lo == 0 and hi <= n_classes - 1:
        return 0
    if lo >= 1 and hi == n_classes:
        return 1
    raise DataError(
        f"{where}: cannot tell whether class numbers are 0- or 1-based (seen {lo}..{hi} for {n_classes} classes); "
        "set source.class_base to 0 or 1 in config.yaml"
    )
