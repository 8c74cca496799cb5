"""Run packs: many runs trained together as one fused model, each member exactly its own run."""

import json

import h5py
import pytest
import torch
import torch.nn.functional as F

from gafkd.distillation import LossSpec
from gafkd.distillation.pack import PackLoss
from gafkd.schema import section_defaults
from gafkd.models import build_model
from gafkd.models.fused import build_fused, member_state
from gafkd.plan.packing import balanced_chunks, pack_widths, student_packs, teacher_packs
from gafkd.training.runs import train_pack, train_teacher
from gafkd.training import checkpoint as checkpoint_module
from gafkd.training.optim import SGD
from gafkd.training.spec import Pack
from gafkd.training.teachers import write_teacher_logits

from helpers import TRAINING, pack_member


def _relative(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("arch, modality, shape", [
    *((arch, modality, shape) for arch in ("wrn16-1", "resnet8", "vgg8", "mobilenetv2-0.5")  # every family
      for modality, shape in (("sig", (6, 3, 120)), ("gaf", (6, 3, 16, 16)))),
    ("transformer2-32", "sig", (6, 3, 120))])  # signals only
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_forward_and_sgd_step_equal_the_members_alone(modality, shape, channels_last, arch):
    """In float64: fused and separate runs are the same arithmetic in another summation order, and in
    float32 grouped and dense kernels round differently by CPU (7e-4 on an AVX2 machine's stem weights
    after one step); in float64 the identity holds to 1e-10 on any CPU, so 1e-5 tests the fusion alone."""
    seeds = [0, 3, 7]
    losses = [LossSpec(), LossSpec((1.0,), 0.3, 4.0), LossSpec((0.3, 0.7), 0.9, 2.0)]
    fused = build_fused(arch, modality, 5, seeds, axes=3)
    singles = []
    for seed in seeds:
        torch.manual_seed(seed)
        singles.append(build_model(arch, modality, 5, axes=3))
    fused, singles = fused.double(), [s.double() for s in singles]
    if channels_last:
        fused.to_channels_last()
        singles = [s.to_channels_last() for s in singles]
    generator = torch.Generator().manual_seed(1)
    xs = [torch.randn(*shape, generator=generator, dtype=torch.float64) for _ in seeds]
    ys = [torch.randint(0, 5, (shape[0],), generator=generator) for _ in seeds]
    teachers = torch.randn(len(seeds), 2, shape[0], 5, generator=generator, dtype=torch.float64) * 3
    x = torch.stack(xs, 1).reshape(shape[0], -1, *shape[2:])
    fused_opt = SGD(fused.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    logits = fused(x)
    alone_logits = [single(xs[m]) for m, single in enumerate(singles)]  # one forward each: BN statistics move once
    for m in range(len(seeds)):
        assert _relative(logits[m], alone_logits[m]) <= 1e-5
    member_losses = PackLoss(losses)(logits, torch.stack(ys), teachers)
    fused_opt.zero_grad()
    member_losses.sum().backward()
    fused_opt.step()
    for m, (single, loss) in enumerate(zip(singles, losses)):
        single.zero_grad()
        own = teachers[m, :len(loss.weights)][None] if loss.weights else None  # its own teachers only
        alone = PackLoss([loss])(alone_logits[m][None], ys[m][None], own)[0]
        assert abs(alone.item() - member_losses[m].item()) <= 1e-5 * abs(alone.item())
        alone.backward()
        opt = SGD(single.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        opt.step()
        after = member_state(fused.state_dict(), m, len(seeds))
        for key, value in single.state_dict().items():
            if value.is_floating_point():
                assert _relative(after[key], value) <= 1e-5, key


def test_one_host_copy_per_epoch_gives_each_member_the_same_weights_bitwise():
    """The best-epoch bookkeeping slices one host copy of the fused state (one transfer per dtype) instead of
    copying every tensor of every improving member: the same member weights, bitwise, dtypes included."""
    from gafkd.models.fused import gathered_on_host, host_state

    fused = build_fused("wrn16-1", "gaf", 5, [0, 1, 2], axes=3).to_channels_last()
    fused(torch.randn(4, 9, 16, 16).contiguous(memory_format=torch.channels_last))  # BN statistics and counters move
    state = fused.state_dict()
    assert host_state(state)["stem.weight"].data_ptr() == state["stem.weight"].data_ptr()  # CPU: no copy at all
    gathered = gathered_on_host(state)  # what a CUDA state goes through
    assert {v.dtype for v in gathered.values()} == {torch.float32, torch.int64}
    for m in range(3):
        before, after = member_state(state, m, 3), member_state(gathered, m, 3)
        assert list(before) == list(after)
        assert all(before[k].dtype == after[k].dtype and torch.equal(before[k], after[k]) for k in before)


def test_member_weights_load_into_a_plain_model():
    fused = build_fused("wrn16-1", "sig", 4, [5, 6], axes=3)
    torch.manual_seed(6)
    reference = build_model("wrn16-1", "sig", 4, axes=3)
    plain = build_model("wrn16-1", "sig", 4, axes=3)
    plain.load_state_dict(member_state(fused.state_dict(), 1, 2))
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), reference.state_dict().values()))


def test_balanced_chunks_and_config_packing():
    assert [len(c) for c in balanced_chunks(list(range(41)), 16)] == [14, 14, 13]
    assert balanced_chunks([1, 2, 3], 1) == [[1], [2], [3]]
    config = {"packing": {"teachers": "auto", "students": 2},
              "teachers": {"modalities": ["gaf"], "archs": ["wrn16-1"], "seeds": [0, 1, 2]},
              "students": {**section_defaults("students"), "arch": "wrn16-1", "seeds": [0, 1], "temperature": 4,
                           "baseline": True,
                           "teacher_seed": "same", "kd1": {"representations": ["gaf"], "teacher_archs": ["wrn16-1"], "lams": [0.7]},
                           "kd2": {"representations": ["gaf"], "pairs": [], "alphas": [0.3], "lam": 0.7}, "kdn": []}}
    on = lambda device: {**config, "training": {"device": device}}  # noqa: E731
    assert pack_widths(on("cpu")) == {"teachers": 1, "students": 2}  # auto teachers: per training.device
    assert pack_widths(on("cuda"))["teachers"] == 3
    teachers = teacher_packs(config, "r", "d", 3)
    assert [p.name for p in teachers] == ["gaf-wrn16-1_seeds0-1-2"] and teachers[0].width == 3
    students = student_packs(config, "r", "d", 2)
    assert [[(m.experiment.spec, m.seed) for m in p.members] for p in students] == [
        [("baseline", 0), ("kd1_gaf-wrn16-1_lam0.7", 0)], [("baseline", 1), ("kd1_gaf-wrn16-1_lam0.7", 1)]]
    assert students[1].members[1].teacher_logits == ("r/d/teachers/gaf-wrn16-1/seed1/logits.h5",)
    # the same config always packs the same way, and a pack survives Snakemake's params round trip
    assert Pack.from_dict(students[0].to_dict()) == students[0]


@pytest.fixture(scope="module")
def teacher_logits(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("teachers")
    paths = []
    for seed in (0, 1):
        member = pack_member(folder, f"gaf{seed}", seed, modality="gaf")
        train_teacher(tiny / "windows.h5", tiny / "gaf.h5", dict(member.outputs), dataset="tiny", modality="gaf",
                      arch="wrn16-1", seed=seed, training=TRAINING)
        paths.append(folder / f"logits{seed}.h5")
    write_teacher_logits([str(folder / "gaf0" / "weights.pt"), str(folder / "gaf1" / "weights.pt")],
                         tiny / "windows.h5", tiny / "gaf.h5", [str(p) for p in paths])
    return paths


def _students(tmp_path, logits):
    return Pack("students", (
        pack_member(tmp_path, "baseline", 0, "baseline"),
        pack_member(tmp_path, "kd1", 1, "kd1_gaf-wrn16-1_lam0.3", [logits[1]]),
        pack_member(tmp_path, "kd2", 0, "kd2_gaf-wrn16-1+gaf-wrn16-1_alpha0.3_lam0.9", [logits[0], logits[1]]),
    ), str(tmp_path / "pack"))


def _final(member):
    return torch.load(member.outputs["weights"], weights_only=True)["final"]


def test_student_pack_members_match_separate_runs_and_repeat_bitwise(tiny, tmp_path, teacher_logits):  # noqa: F811
    pack = _students(tmp_path / "a", teacher_logits)
    train_pack(pack, tiny / "windows.h5", training=TRAINING)
    again = _students(tmp_path / "b", teacher_logits)
    train_pack(again, tiny / "windows.h5", training=TRAINING)
    for a, b in zip(pack.members, again.members):
        assert all(torch.equal(x, y) for x, y in zip(_final(a).values(), _final(b).values()))
    for member in pack.members:  # each member alone: the same run within float32 accumulation noise
        alone = Pack("alone", (pack_member(tmp_path / "alone", member.run_dir.name, member.seed, member.experiment.spec,
                                       member.teacher_logits),), str(tmp_path / "alone" / member.run_dir.name))
        train_pack(alone, tiny / "windows.h5", training={**TRAINING, "epochs": 1})
        fused_history = open(member.outputs["history"]).read().splitlines()[1].split(",")
        alone_history = open(alone.members[0].outputs["history"]).read().splitlines()[1].split(",")
        assert float(fused_history[2]) == pytest.approx(float(alone_history[2]), rel=1e-4)  # epoch-1 train loss
    metrics = [json.loads(open(m.outputs["metrics"]).read()) for m in pack.members]
    assert [m["kind"] for m in metrics] == ["baseline", "kd1", "kd2"] and metrics[2]["alpha"] == 0.3
    assert {m["pack"]["members_digest"] for m in metrics} == {metrics[0]["pack"]["members_digest"]}
    assert metrics[0]["pack"]["width"] == 3 and metrics[0]["pack"]["name"] == "students"
    assert not (tmp_path / "a" / "pack" / "checkpoint.pt").exists()


def test_killed_pack_resumes_identical(tiny, tmp_path, teacher_logits, monkeypatch):  # noqa: F811
    reference = _students(tmp_path / "ref", teacher_logits)
    train_pack(reference, tiny / "windows.h5", training=TRAINING)
    real_save, saves = checkpoint_module.save, []

    def save_then_die(path, state, epoch=0):
        real_save(path, state, epoch)
        saves.append(epoch)
        if epoch == 2:
            raise KeyboardInterrupt("simulated kill after epoch 2")

    monkeypatch.setattr(checkpoint_module, "save", save_then_die)
    run = _students(tmp_path / "run", teacher_logits)
    with pytest.raises(KeyboardInterrupt):
        train_pack(run, tiny / "windows.h5", training=TRAINING)
    monkeypatch.setattr(checkpoint_module, "save", real_save)
    train_pack(run, tiny / "windows.h5", training=TRAINING)
    for a, b in zip(reference.members, run.members):
        assert all(torch.equal(x, y) for x, y in zip(_final(a).values(), _final(b).values()))
        assert json.loads(open(b.outputs["metrics"]).read())["resumed_from_epoch"] == 2


def test_a_diverging_member_is_named_and_the_others_are_kept(tiny, tmp_path, teacher_logits):  # noqa: F811
    broken = tmp_path / "nan_logits.h5"
    with h5py.File(teacher_logits[0], "r") as source, h5py.File(broken, "w") as h5:
        for key, value in source.attrs.items():
            h5.attrs[key] = value
        logits = source["logits"][...]
        logits[:] = float("nan")
        h5.create_dataset("logits", data=logits)
    pack = Pack("mixed", (pack_member(tmp_path, "baseline", 0, "baseline"),
                          pack_member(tmp_path, "bad", 0, "kd1_gaf-wrn16-1_lam0.7", [broken])), str(tmp_path / "pack"))
    result = train_pack(pack, tiny / "windows.h5", training=TRAINING)  # the job succeeds
    assert [m["status"] for m in result["members"]] == ["ok", "diverged"]
    good = json.loads(open(pack.members[0].outputs["metrics"]).read())
    assert good["status"] == "ok" and good["epochs"] == 3 and 0 <= good["best_test_acc"] <= 100
    assert all(torch.isfinite(v).all() for v in _final(pack.members[0]).values() if v.is_floating_point())
    bad = json.loads(open(tmp_path / "bad" / "metrics.json").read())
    assert bad["status"] == "diverged" and "bad: epoch 1, batch 1: the loss is nan" in bad["diverged"]["message"]
    assert bad["best_test_acc"] is None and (tmp_path / "bad" / "history.csv").exists()
    assert not (tmp_path / "pack" / "checkpoint.pt").exists()  # done: every member has its result


def test_cross_entropy_of_a_pack_is_the_mean_of_its_members():
    logits, labels = torch.randn(2, 4, 3), torch.randint(0, 3, (2, 4))
    losses = PackLoss([LossSpec(), LossSpec()])(logits, labels)
    assert torch.allclose(losses, torch.stack([F.cross_entropy(logits[m], labels[m]) for m in range(2)]))


def test_float32_pack_comparisons_hold_with_the_cpu_capped_to_avx2(tmp_path):
    """Fused and separate runs round differently per kernel family (AVX2, AVX-512, AMX): the float32 comparisons
    here must hold on an AVX2-only machine too. Where this CPU has more, they run again with oneDNN and ATen
    capped to AVX2 (what CI's AVX-512 machine cannot otherwise catch)."""
    import os
    import subprocess
    import sys

    if torch.backends.cpu.get_cpu_capability() in ("DEFAULT", "AVX2"):
        pytest.skip(f"this CPU's capability is {torch.backends.cpu.get_cpu_capability()}: the whole suite runs "
                    "at AVX2 or below already")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                          "student_pack_members_match or fused_forward_and_sgd_step"], env=env, capture_output=True,
                         text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
