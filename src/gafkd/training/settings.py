"""The ``training`` section as a typed value: :class:`TrainingSettings`.

A training job, the planner and the report read the same settings: the config's ``training`` section (a
dataset's protocol overlay merged in), every key the schema names, its defaults filled in from the schema
(stated there once; the fields here only name and type them, and a test keeps the two equal).

Two views of it travel as plain data: :meth:`TrainingSettings.identity` (what shapes a run's numbers: its
settings digest and Snakemake's params) and :meth:`TrainingSettings.as_dict`. The settings that only decide
how fast a job runs (:data:`NOT_RUN_IDENTITY`) stay out of the params, so changing them retrains nothing; a job
takes them from the config it runs under (:meth:`TrainingSettings.for_job`).

Torch-free: the planner imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from ..errors import ConfigError
from ..schema import training_settings

# Training keys that do not shape a run's numbers: `threads` only decides how fast (CPU kernels are
# deterministic for a fixed thread count), `teacher_weights` is read by the teacher_logits rule only,
# `gpu_jobs_per_device` only decides which jobs share a GPU.
NOT_RUN_IDENTITY = ("threads", "teacher_weights", "gpu_jobs_per_device")
# Settings added after results existed, at the value every earlier run had: left out of the identity there,
# so those results keep their digests (and Snakemake its params) and are not retrained for nothing.
IDENTITY_WHEN_SET = {"standardisation": "pooled", "signal_scaling": "none", "cross_entropy": "plain"}
# The stages a per-stage ``precision`` names (``{teachers: tf32, students: fp32}``).
STAGES = ("teachers", "students")


@dataclass(frozen=True)
class TrainingSettings:
    """One dataset's training settings, complete (the schema's descriptions say what each one does)."""

    epochs: int
    batch_size: int
    standardisation: str  # pooled | window
    signal_scaling: str | dict  # none, or (resolved per dataset) {"kind": "fixed", "limits": {min, max}}
    cross_entropy: str  # plain | standardised
    lr: float
    lr_steps: tuple[float, ...]
    lr_milestones: tuple[int | str, ...]  # epochs, or fractions of them ("1/3")
    momentum: float
    weight_decay: float
    deterministic: bool
    device: str  # cpu | cuda
    gpu_jobs_per_device: int
    threads: int
    precision: str | dict  # fp32 | tf32 | bf16, or one per stage: {teachers: …, students: …}
    channels_last: bool
    compile: bool
    teacher_weights: str  # best | final | best_val

    @classmethod
    def of(cls, training: "TrainingSettings | Mapping | None" = None) -> "TrainingSettings":
        """``training`` (a config's section, or part of one) with the schema's defaults for what it leaves out;
        an unknown key is a :class:`ConfigError` naming it."""
        if isinstance(training, cls):
            return training
        filled = training_settings(dict(training or {}))
        return cls(**{**filled, "lr_steps": tuple(filled["lr_steps"]), "lr_milestones": tuple(filled["lr_milestones"])})

    @classmethod
    def for_job(cls, identity: Mapping, config_training: Mapping | None) -> "TrainingSettings":
        """What a job runs with: its params' ``identity`` and, from the config it runs under, the settings that
        only decide its speed (read at run time: changing them must not make Snakemake rerun it)."""
        speed = cls.of(config_training)
        return cls.of({**{k: getattr(speed, k) for k in NOT_RUN_IDENTITY}, **identity})

    def for_stage(self, stage: str) -> "TrainingSettings":
        """These settings as ``stage`` (``teachers``: their training and logits; ``students``) runs them: a
        per-stage ``precision`` resolved to that stage's."""
        if stage not in STAGES:
            raise ConfigError(f"training: stage {stage!r} is not one of {STAGES}")
        return replace(self, precision=self.precision[stage]) if isinstance(self.precision, dict) else self

    @property
    def inputs(self) -> dict:
        """How a run reads its inputs (:func:`gafkd.training.data.load_run_data`; a checkpoint records the same)."""
        return {"standardisation": self.standardisation, "signal_scaling": self.signal_scaling}

    def as_dict(self) -> dict:
        """Plain data, keys sorted (Snakemake compares params as text)."""
        plain = asdict(self)
        return {key: list(plain[key]) if isinstance(plain[key], tuple) else plain[key] for key in sorted(plain)}

    def identity(self) -> dict:
        """The settings that belong to a run's identity (its settings digest, Snakemake's params)."""
        return {k: v for k, v in self.as_dict().items()
                if k not in NOT_RUN_IDENTITY and not (k in IDENTITY_WHEN_SET and v == IDENTITY_WHEN_SET[k])}
