"""CUDA branches (``pytest -m cuda``; skipped without CUDA): the device check runs them on any GPU machine.

Each is the CUDA twin of a CPU test: fused packs against separate runs, strict determinism (two runs,
bitwise), a diverging member isolated, and the slot pool handing out a real device to two jobs.
"""

import json
import multiprocessing as mp

import h5py
import pytest
import torch

from gafkd.training.runs import train_pack
from gafkd.training.spec import Pack, RunSpec
from gafkd.training.teachers import write_teacher_logits
from helpers import TRAINING, pack_member, run_files, tiny_teacher

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the device check runs these)")]
ON_CUDA = {**TRAINING, "device": "cuda"}


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["final"]


def test_fused_pack_matches_separate_runs_on_cuda(tiny, tmp_path):  # noqa: F811
    members = tuple(RunSpec("tiny", "sig", "wrn16-1", s, run_files(tmp_path / "pack" / f"seed{s}")) for s in range(3))
    train_pack(Pack("p", members, str(tmp_path / "packdir")), tiny / "windows.h5", training=ON_CUDA, gpus=1)
    for s, member in enumerate(members):
        alone = RunSpec("tiny", "sig", "wrn16-1", s, run_files(tmp_path / "alone" / f"seed{s}"))
        train_pack(Pack(f"a{s}", (alone,), str(tmp_path / f"alonedir{s}")), tiny / "windows.h5", training=ON_CUDA,
                   gpus=1)
        fused, single = _weights(member.outputs["weights"]), _weights(alone.outputs["weights"])
        for key in single:
            if single[key].is_floating_point():
                scale = single[key].abs().max().clamp(min=1e-6)
                assert ((fused[key] - single[key]).abs().max() / scale).item() < 1e-3, key
        fused_acc = json.loads(open(member.outputs["metrics"]).read())["best_test_acc"]
        single_acc = json.loads(open(alone.outputs["metrics"]).read())["best_test_acc"]
        assert abs(fused_acc - single_acc) <= 15


def test_strict_determinism_twice_bitwise_on_cuda(tiny, tmp_path):  # noqa: F811
    runs = []
    for attempt in ("a", "b"):
        outputs = tiny_teacher(tiny, tmp_path / attempt, "gaf", training=ON_CUDA)
        runs.append(_weights(outputs["weights"]))
        metrics = json.loads(open(outputs["metrics"]).read())
        assert metrics["numerics"] == {"precision": "fp32", "computed_in": "fp32", "tf32": False,
                                       "deterministic": "strict"}
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_a_diverging_member_is_isolated_on_cuda(tiny, tmp_path):  # noqa: F811
    teacher = tiny_teacher(tiny, tmp_path / "teacher", training=ON_CUDA)
    logits = tmp_path / "logits.h5"
    write_teacher_logits(teacher["weights"], tiny / "windows.h5", tiny / "gaf.h5", logits, training=ON_CUDA, gpus=1)
    broken = tmp_path / "nan.h5"
    with h5py.File(logits, "r") as source, h5py.File(broken, "w") as h5:
        for key, value in source.attrs.items():
            h5.attrs[key] = value
        h5.create_dataset("logits", data=source["logits"][...] * float("nan"))
    pack = Pack("mixed", (pack_member(tmp_path, "good", 0, "kd1_gaf-wrn16-1_lam0.7", [logits]),
                          pack_member(tmp_path, "bad", 0, "kd1_gaf-wrn16-1_lam0.7", [broken])), str(tmp_path / "pack"))
    result = train_pack(pack, tiny / "windows.h5", training=ON_CUDA, gpus=1)
    assert [m["status"] for m in result["members"]] == ["ok", "diverged"]
    good = _weights(pack.members[0].outputs["weights"])
    assert all(torch.isfinite(v).all() for v in good.values() if v.is_floating_point())


def _job(lock_dir, queue):
    from gafkd.execution.gpuslots import acquire_gpu_slot

    device = acquire_gpu_slot(lock_dir, jobs_per_device=2, timeout=60)
    x = torch.ones(1024, device="cuda")  # CUDA starts after the slot chose the device
    queue.put((device, float(x.sum().item()), torch.cuda.device_count()))


def test_two_jobs_through_the_slot_pool_on_cuda(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    context = mp.get_context("spawn")  # a fresh process: CUDA must not be initialised before the slot
    queue = context.Queue()
    jobs = [context.Process(target=_job, args=(tmp_path, queue)) for _ in range(2)]
    for job in jobs:
        job.start()
    got = [queue.get(timeout=120) for _ in jobs]
    for job in jobs:
        job.join(30)
        assert job.exitcode == 0
    assert all(total == 1024.0 and count == 1 for _, total, count in got)


def test_one_host_copy_of_a_cuda_state_equals_copies_tensor_by_tensor():
    from gafkd.models.fused import build_fused, host_state, member_state

    fused = build_fused("wrn16-1", "sig", 5, [0, 1], axes=3).cuda().to_channels_last()
    fused(torch.randn(4, 6, 100, device="cuda"))
    state = fused.state_dict()
    host = host_state(state)
    assert all(v.device.type == "cpu" for v in host.values())
    for m in range(2):
        before, after = member_state(state, m, 2), member_state(host, m, 2)
        assert all(torch.equal(before[k], after[k]) for k in before)

