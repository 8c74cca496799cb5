"""Glue for workflow/scripts: run one step with its log, turning user errors into one clear line."""

from __future__ import annotations

import json
import logging
import sys
import time
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
    if result is not None:
        print(json.dumps(result, default=str), file=stream)
    print(f"done in {time.perf_counter() - started:.1f} s", file=stream, flush=True)
    return result
