"""Glue for workflow/scripts: run one step with its log, turning user errors into one clear line."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout

from ..errors import GafkdError


def run_step(snakemake, step, *args, **kwargs):
    """Call ``step(*args, **kwargs)`` with stdout/stderr and logging going to the rule's log file.

    A :class:`GafkdError` ends the job with exit status 1 and its message as the last log line
    (and on the terminal), without a traceback: the message already says what to fix.
    """
    log_path = snakemake.log[0] if snakemake.log else None
    stream = open(log_path, "a", encoding="utf-8") if log_path else sys.stderr
    logging.basicConfig(stream=stream, level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    started = time.perf_counter()
    try:
        with redirect_stdout(stream), redirect_stderr(stream):
            result = step(*args, **kwargs)
    except GafkdError as exc:
        message = f"ERROR ({snakemake.rule}): {exc}"
        print(message, file=stream, flush=True)
        if stream is not sys.stderr:
            print(message, file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception:
        # a bug, not a user error: its traceback in the rule's log too (Python prints it on the job's stderr
        # only, which a cluster job keeps in its scheduler's log, leaving the rule's log empty)
        if stream is not sys.stderr:
            traceback.print_exc(file=stream)
            stream.flush()
        raise
    if result is not None:
        print(json.dumps(result, default=str), file=stream)
    print(f"done in {time.perf_counter() - started:.1f} s", file=stream, flush=True)
    return result


def job_training(snakemake):
    """The training settings of a training rule's job: its ``training`` param (what shapes its runs' numbers)
    and the speed-only settings from the config (the schema's defaults where it leaves them out), read here and
    not from params so that changing them makes Snakemake rerun nothing."""
    from ..training.settings import TrainingSettings

    return TrainingSettings.for_job(snakemake.params.training, snakemake.config.get("training"))


def run_training_step(snakemake, step, *args, **kwargs):
    """:func:`run_step` for the rules that train or run models, with their :func:`job_training` settings as
    ``training``: the job first takes its GPU slot (before CUDA starts) when it holds a ``gpu`` resource
    (:mod:`gafkd.execution.gpuslots`)."""
    from .gpuslots import acquire_gpu_slot

    training = job_training(snakemake)

    def on_its_gpu(*a, **k):
        if getattr(snakemake.resources, "gpu", 0):
            acquire_gpu_slot(jobs_per_device=training.gpu_jobs_per_device)
        return step(*a, training=training, **k)

    return run_step(snakemake, on_its_gpu, *args, **kwargs)
