"""Row labels in the notes' wording, e.g. ``T1: WRN16-3(PI), T2: WRN16-3(Sig), S: WRN16-1(Sig)``.

Every label names its representation (the registry's label: GAF, GADF, MTF, PI, …; Sig for signals)."""

from __future__ import annotations

from ..images.registry import label as modality_label
from ..models.families import arch_label
from ..kinds import ALONE_KIND, TEACHER
from ..names import ModelId


def model_label(spec: str) -> str:
    """``gaf:wrn16-3`` → ``WRN16-3(GAF)``."""
    model = ModelId.parse(spec)
    return f"{arch_label(model.arch)}({modality_label(model.modality)})"


def teachers_label(teachers: str, weights=None) -> str:
    parts = teachers.split("+")
    if len(parts) == 1:
        return f"T: {model_label(parts[0])}"
    label = ", ".join(f"T{i + 1}: {model_label(p)}" for i, p in enumerate(parts))
    if weights is not None:
        label += ", w = " + "/".join(format(w, "g") for w in weights)
    return label


def experiment_label(kind: str, teachers: str, student: str, suffix: str | None, weights=None) -> str:
    """A main-table row's label; ``suffix`` (e.g. ``500w, 14cls``) None leaves the dataset out."""
    tail = f" ({suffix})" if suffix else ""
    if kind == TEACHER:
        model = ModelId.parse(teachers)
        return f"{arch_label(model.arch)} ({modality_label(model.modality)} single network{f', {suffix}' if suffix else ''})"
    if kind == ALONE_KIND:
        return f"S: {model_label(student)} alone{tail}"
    return f"{teachers_label(teachers, weights)}, S: {model_label(student)}{tail}"


def run_label(kind: str, teachers: str, student: str, alpha=None, lam=None) -> str:
    """A run's configuration in one line, with its α and λ: ``T: WRN16-1(GAF), S: WRN16-1(Sig), λ = 0.7``."""
    label = experiment_label(kind, teachers, student, None)
    if kind in (TEACHER, ALONE_KIND):
        return label
    if alpha is not None and alpha == alpha:  # NaN: not a two-teacher run
        label += f", α = {float(alpha):g}"
    return label + (f", λ = {float(lam):g}" if lam is not None and lam == lam else "")
