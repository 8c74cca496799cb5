"""Concurrent GPU jobs on one machine get different devices; a crashed job's slot comes back."""

import multiprocessing as mp
import os
import signal
import time

from gafkd.execution.gpuslots import acquire_gpu_slot, release_gpu_slots


def _hold(lock_dir, queue, hold_seconds):
    device = acquire_gpu_slot(lock_dir, timeout=30, poll=0.05)
    queue.put((os.getpid(), device, os.environ.get("CUDA_VISIBLE_DEVICES"), time.monotonic()))
    time.sleep(hold_seconds)


def _spawn(lock_dir, queue, hold):
    process = mp.get_context("fork").Process(target=_hold, args=(lock_dir, queue, hold))
    process.start()
    return process


def test_concurrent_jobs_get_distinct_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("GAFKD_GPUS", "0,1,2")
    queue = mp.get_context("fork").Queue()
    workers = [_spawn(tmp_path, queue, 1.0) for _ in range(3)]
    got = [queue.get(timeout=20) for _ in workers]
    assert sorted(device for _, device, _, _ in got) == ["0", "1", "2"]
    assert all(device == visible for _, device, visible, _ in got)
    # a fourth job waits until one of the three exits
    fourth = _spawn(tmp_path, queue, 0.0)
    _, device, _, started = queue.get(timeout=20)
    assert device in {"0", "1", "2"} and started >= min(t for *_, t in got) + 0.9
    for w in [*workers, fourth]:
        w.join(10)


def test_killed_job_releases_its_slot(tmp_path, monkeypatch):
    monkeypatch.setenv("GAFKD_GPUS", "7")
    queue = mp.get_context("fork").Queue()
    victim = _spawn(tmp_path, queue, 60.0)
    assert queue.get(timeout=20)[1] == "7"
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(10)
    assert acquire_gpu_slot(tmp_path, timeout=5, poll=0.05) == "7"
    release_gpu_slots()


def test_no_gpus_and_scheduler_assigned(tmp_path, monkeypatch):
    monkeypatch.setenv("GAFKD_GPUS", "")
    assert acquire_gpu_slot(tmp_path) is None
    monkeypatch.delenv("GAFKD_GPUS")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert acquire_gpu_slot(tmp_path) == "3"  # SLURM already chose: keep it
