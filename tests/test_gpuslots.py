"""Concurrent GPU jobs on one machine get different devices; a crashed job's slot comes back."""

import errno
import multiprocessing as mp
import os
import signal
import tempfile
import time

import pytest

from gafkd.errors import GafkdError
from gafkd.execution import gpuslots
from gafkd.execution.gpuslots import acquire_gpu_slot, default_lock_dir


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    # acquire_gpu_slot sets CUDA_VISIBLE_DEVICES in the calling process: restore it after each test
    for variable in ("CUDA_VISIBLE_DEVICES", "GAFKD_GPUS", "GAFKD_GPU_LOCKS"):
        monkeypatch.delenv(variable, raising=False)


def _hold(lock_dir, queue, hold_seconds, jobs_per_device):
    device = acquire_gpu_slot(lock_dir, jobs_per_device=jobs_per_device, timeout=30, poll=0.05)
    queue.put((os.getpid(), device, os.environ.get("CUDA_VISIBLE_DEVICES"), time.monotonic()))
    time.sleep(hold_seconds)


def _spawn(lock_dir, queue, hold, jobs_per_device=1):
    process = mp.get_context("fork").Process(target=_hold, args=(lock_dir, queue, hold, jobs_per_device))
    process.start()
    return process


def _run_jobs(lock_dir, count, hold=1.0, jobs_per_device=1):
    queue = mp.get_context("fork").Queue()
    workers = [_spawn(lock_dir, queue, hold, jobs_per_device) for _ in range(count)]
    return queue, workers, [queue.get(timeout=20) for _ in workers]


def test_concurrent_jobs_get_distinct_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("GAFKD_GPUS", "0,1,2")
    queue, workers, got = _run_jobs(tmp_path, 3)
    assert sorted(device for _, device, _, _ in got) == ["0", "1", "2"]
    assert all(device == visible for _, device, visible, _ in got)
    # a fourth job waits until one of the three exits
    fourth = _spawn(tmp_path, queue, 0.0)
    _, device, _, started = queue.get(timeout=20)
    assert device in {"0", "1", "2"} and started >= min(t for *_, t in got) + 0.9
    for w in [*workers, fourth]:
        w.join(10)


def test_a_preset_device_list_is_the_pool(tmp_path, monkeypatch):
    """CUDA_VISIBLE_DEVICES=4,5 in the user's shell: jobs spread over 4 and 5 (not all on the first)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    _, workers, got = _run_jobs(tmp_path, 2)
    assert sorted(visible for _, _, visible, _ in got) == ["4", "5"]
    for w in workers:
        w.join(10)


def test_several_jobs_share_a_device(tmp_path, monkeypatch):
    """gpu_jobs_per_device: 2 → two jobs on the one device at once, a third waits."""
    monkeypatch.setenv("GAFKD_GPUS", "0")
    queue, workers, got = _run_jobs(tmp_path, 2, hold=1.0, jobs_per_device=2)
    assert [device for _, device, _, _ in got] == ["0", "0"]
    assert abs(got[0][3] - got[1][3]) < 0.8
    third = _spawn(tmp_path, queue, 0.0, 2)
    assert queue.get(timeout=20)[3] >= min(t for *_, t in got) + 0.9
    for w in [*workers, third]:
        w.join(10)


def test_killed_job_releases_its_slot(tmp_path, monkeypatch):
    monkeypatch.setenv("GAFKD_GPUS", "7")
    queue = mp.get_context("fork").Queue()
    victim = _spawn(tmp_path, queue, 60.0)
    assert queue.get(timeout=20)[1] == "7"
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(10)
    _, workers, got = _run_jobs(tmp_path, 1, hold=0.0)
    assert got[0][1] == "7"
    workers[0].join(10)


def test_no_gpus_and_scheduler_assigned(tmp_path, monkeypatch):
    monkeypatch.setenv("GAFKD_GPUS", "")
    assert acquire_gpu_slot(tmp_path) is None
    monkeypatch.delenv("GAFKD_GPUS")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert acquire_gpu_slot(tmp_path) == "3"  # SLURM already chose: keep it, no lock
    assert not list(tmp_path.iterdir())


def test_locks_are_per_host_not_on_the_results_filesystem(monkeypatch, tmp_path):
    assert str(default_lock_dir()).startswith(tempfile.gettempdir())
    monkeypatch.setenv("GAFKD_GPU_LOCKS", str(tmp_path / "locks"))
    assert default_lock_dir() == tmp_path / "locks"


def test_a_filesystem_that_refuses_locks_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("GAFKD_GPUS", "0")

    def refuse(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(gpuslots.fcntl, "flock", refuse)
    with pytest.raises(GafkdError, match=r"gpu0.lock: the filesystem refuses a lock \(No locks available\); "
                                         "set GAFKD_GPU_LOCKS"):
        acquire_gpu_slot(tmp_path, timeout=1)


def test_a_training_job_holding_a_gpu_takes_its_slot_with_the_configs_settings(tmp_path, monkeypatch):
    """A training job with a gpu resource (a SLURM GPU job, say) whose config leaves gpu_jobs_per_device at the
    schema's default takes its slot and trains with the typed settings; a bug's traceback lands in the rule's log."""
    from types import SimpleNamespace

    from gafkd.execution.snake import run_training_step
    from gafkd.training.settings import TrainingSettings

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # the scheduler's one device: used as it is
    log = tmp_path / "job.log"
    job = SimpleNamespace(rule="train_teacher", log=[str(log)], resources=SimpleNamespace(gpu=1),
                          params=SimpleNamespace(training={"epochs": 2}), config={"training": {"epochs": 200}})
    seen = {}

    def step(pack, *, training):
        seen.update(pack=pack, training=training, device=os.environ["CUDA_VISIBLE_DEVICES"])
        return {"ok": True}

    assert run_training_step(job, step, "a pack") == {"ok": True}
    assert seen == {"pack": "a pack", "training": TrainingSettings.of({"epochs": 2}), "device": "3"}

    def broken(*, training):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_training_step(job, broken)
    assert "Traceback" in log.read_text() and "KeyError: 'a bug'" in log.read_text()
