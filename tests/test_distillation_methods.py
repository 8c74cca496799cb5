"""Distillation methods as entries: every loss term and weighting rule of a pack equals a plain one-run
implementation written from its paper, in float64, for a pack of mixed members (some with a method, some
without, 1–3 teachers, 2-D image teachers and a 1-D signal teacher), on CPU and (the device check) CUDA."""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from gafkd.distillation import LossSpec
from gafkd.distillation.pack import PackLoss
from gafkd.distillation.registry import LOSSES, VARIANTS, WEIGHTINGS, coefficients
from gafkd.distillation.signals import StudentOutputs
from gafkd.grid import experiments
from gafkd.models import build_model
from gafkd.models.fused import build_fused, member_state
from gafkd.names import Experiment
from gafkd.schema import SCHEMA, section_defaults
from gafkd.training.data import RunData
from gafkd.training.targets import CachedTeachers, LiveTeachers

N, CLASSES, BATCH = 48, 5, 8

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA (the device check runs these)")])


def _data(inputs, device):
    labels = torch.arange(N) % CLASSES
    c = inputs.shape[1]
    return RunData(inputs=inputs, labels=labels, train_idx=torch.arange(N), test_idx=torch.arange(0),
                   mean=torch.zeros(c, dtype=torch.float64), std=torch.ones(c, dtype=torch.float64),
                   num_classes=CLASSES, windows_digest="x").to(device)


# -- plain one-run implementations, from the papers --------------------------------------------------

def plain_weights(rule, teacher_logits, y, fixed):
    """[K, B] per-sample teacher weights of one run."""
    k = len(teacher_logits)
    if rule == "fixed":
        return torch.tensor(fixed, dtype=torch.float64).view(k, 1).expand(k, len(y))
    if k == 1:
        return torch.ones(1, len(y), dtype=torch.float64)
    if rule == "camkd":  # Zhang et al. 2022: w_k = (1 − softmax_k(CE_k)) / (K − 1)
        ce = torch.stack([F.cross_entropy(t, y, reduction="none") for t in teacher_logits])
        return (1 - torch.softmax(ce, 0)) / (k - 1)
    entropy = torch.stack([-(F.softmax(t, 1) * F.log_softmax(t, 1)).sum(1) for t in teacher_logits])  # EBKD
    return (1 - entropy / entropy.sum(0)) / (k - 1)


def plain_loss(student, teachers, x, teacher_inputs, y, spec: LossSpec, projectors):
    """One run, written out: CE; Hinton KD per teacher (τ², per-sample weights averaged over the batch);
    SP (G = A·Aᵀ, rows L2-normalised, ‖G_T − G_S‖²_F / b² per stage); the projector's LogSum
    (nn.Linear, then BatchNorm1d(affine=False, ε = 1e-4) on both sides, log Σ|·|⁴)."""
    logits, stages, embedding, _ = student(x, features=True)
    loss = (1 - spec.lam) * F.cross_entropy(logits, y)
    if not spec.weights:
        return loss
    with torch.no_grad():
        outs = [t(inp, features=True) for t, inp in zip(teachers, teacher_inputs)]
    w = plain_weights(spec.weighting, [o[0] for o in outs], y, spec.weights)
    tau, b = spec.temperature, len(y)
    for k, (t_logits, t_stages, t_embedding, _) in enumerate(outs):
        kl = F.kl_div(F.log_softmax(logits / tau, 1), F.softmax(t_logits / tau, 1), reduction="none").sum(1)
        loss = loss + spec.lam * (w[k] * kl).mean() * tau**2
        beta = spec.coefficient("sp")
        if beta:
            sp = 0.0
            for s, t in zip(stages, t_stages):
                gs, gt = s.reshape(b, -1) @ s.reshape(b, -1).T, t.reshape(b, -1) @ t.reshape(b, -1).T
                gs, gt = gs / gs.norm(dim=1, keepdim=True), gt / gt.norm(dim=1, keepdim=True)
                sp = sp + ((gt - gs) ** 2).sum() / b**2
            loss = loss + beta * w[k].mean() * sp
        gamma = spec.coefficient("projector")
        if gamma:
            dim = t_embedding.shape[1]
            norm = torch.nn.BatchNorm1d(dim, eps=1e-4, affine=False).double().to(x.device).train()
            distance = (norm(projectors[k](embedding)) - norm(t_embedding)).abs().pow(4).sum()
            loss = loss + gamma * w[k].mean() * torch.log(distance)
    return loss


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_every_entry_in_a_mixed_pack_equals_its_one_run_implementation(device, request):
    before = torch.backends.cudnn.conv.fp32_precision  # (a settable property: monkeypatch could not restore it)
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    request.addfinalizer(lambda: setattr(torch.backends.cudnn.conv, "fp32_precision", before))
    torch.manual_seed(0)
    signals = _data(torch.randn(N, 3, 64, dtype=torch.float64), device)
    images = _data(torch.randn(N, 3, 16, 16, dtype=torch.float64), device)
    models = [build_model("wrn16-1", "gaf", CLASSES, axes=3), build_model("wrn16-3", "pi", CLASSES, axes=3),
              build_model("wrn16-1", "sig", CLASSES, axes=3)]
    models = [m.double().to(device).eval() for m in models]
    for m in models:  # trained-looking teachers: confident, different from one another
        m.fc.weight.data.mul_(30)
    inputs = [images, images, signals]
    sp, proj = ("sp", 700.0), ("projector", 2.0)
    members = [  # (spec, teacher slots)
        (LossSpec((0.2, 0.3, 0.5), 0.7, 4.0, extras=(sp,)), [0, 1, 2]),
        (LossSpec((1 / 3,) * 3, 0.7, 4.0, "camkd"), [0, 1, 2]),
        (LossSpec((0.5, 0.5), 0.6, 2.0, "ebkd"), [0, 2]),
        (LossSpec((1.0,), 0.7, 4.0, "camkd"), [0]),
        (LossSpec((0.3, 0.7), 0.5, 4.0, extras=(proj,)), [1, 2]),
        (LossSpec(), []),
        (LossSpec((1 / 3,) * 3, 0.7, 4.0, "ebkd", extras=(proj, sp)), [2, 0, 1]),
        (LossSpec((1.0,), 0.9, 4.0), [2]),
        (LossSpec((1.0,), 0.7, 4.0, extras=(proj, sp)), [1]),
        (LossSpec((0.4, 0.6), 0.7, 4.0, "camkd", extras=(sp,)), [2, 1]),
    ]
    specs, slots = [m[0] for m in members], [m[1] for m in members]
    seeds = list(range(3, 3 + len(members)))
    student = build_fused("wrn16-1", "sig", CLASSES, seeds, axes=3).double().to(device)
    live = LiveTeachers(list(zip(models, inputs)), slots, frozenset().union(*(s.needs for s in specs)))
    loss = PackLoss(specs, device, seeds=seeds, student_dim=64, teacher_dims=live.embedding_dims).double()
    generator = torch.Generator().manual_seed(1)
    idx = torch.stack([torch.randperm(N, generator=generator)[:BATCH] for _ in members]).to(device)
    idx[5] = idx[0]  # two members drawing the same rows share the teachers' feature entries
    labels = signals.labels[idx]
    output = student(signals.pack_batch(idx), features=True)
    ours = loss(StudentOutputs.of(output, len(members)), labels, live(idx))

    projector = loss.terms["projector"]
    for m, (spec, own) in enumerate(members):
        plain = build_model("wrn16-1", "sig", CLASSES, axes=3).double().to(device)
        plain.load_state_dict(member_state(student.state_dict(), m, len(members)))
        plain.train()
        projectors = []
        for t, u in enumerate(own):
            dim = models[u].fc.in_features
            linear = torch.nn.Linear(64, dim).double().to(device)
            linear.weight.data.copy_(projector.weight[m, t, :dim])
            linear.bias.data.copy_(projector.bias[m, t, :dim])
            projectors.append(linear)
        rows = idx[m]
        reference = plain_loss(plain, [models[u] for u in own], signals.batch(rows),
                               [inputs[u].batch(rows) for u in own], labels[m], spec, projectors)
        assert abs(ours[m].item() - reference.item()) <= 1e-6 * max(1.0, abs(reference.item())), (
            m, ours[m].item(), reference.item())


def test_rules_weigh_the_more_confident_teacher_more_and_sum_to_one():
    y = torch.tensor([[0, 1]])
    sure = torch.tensor([[10.0, 0, 0], [0, 10.0, 0]])  # right and confident on both samples
    unsure = torch.zeros(2, 3)
    logits = torch.stack([sure, unsure]).unsqueeze(0)  # [1, T=2, B=2, K=3]
    present = torch.tensor([[True, True]])
    for name in ("camkd", "ebkd"):
        w = WEIGHTINGS[name].load()(logits, y, torch.full((1, 2), 0.5), present)
        assert torch.allclose(w.sum(1), torch.ones(1, 2)) and (w[0, 0] > w[0, 1]).all(), (name, w)
    one = WEIGHTINGS["camkd"].load()(logits[:, :1], y, torch.ones(1, 1), present[:, :1])
    assert torch.equal(one, torch.ones(1, 1, 2))  # one teacher: plain KD


def test_live_teachers_run_each_teacher_once_and_share_entries_between_members_of_a_seed():
    torch.manual_seed(0)
    signals = _data(torch.randn(N, 3, 64, dtype=torch.float64), "cpu")
    teacher = build_model("wrn16-1", "sig", CLASSES, axes=3).double().eval()
    calls = []
    teacher.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    live = LiveTeachers([(teacher, signals)], [[0]] * 6, frozenset({"stages"}))
    same, other = torch.arange(BATCH), torch.arange(BATCH, 2 * BATCH)
    signals_of_step = live(torch.stack([same] * 5 + [other]))
    assert calls == [2 * BATCH]  # one forward over the union of the rows
    assert len(signals_of_step.stages) == 2 and signals_of_step.entry[:, 0].tolist() == [0] * 5 + [1]


def test_without_feature_losses_no_feature_is_computed():
    """Cached-logit students pay nothing for feature losses: no stage output is kept, no provider runs a model."""
    loss = PackLoss([LossSpec((1.0,), 0.7, 4.0), LossSpec((0.4, 0.6), 0.7, 4.0, "camkd")])
    assert loss.needs == {"logits"} and set(loss.terms) == {"kd"}
    cached = CachedTeachers([torch.randn(N, CLASSES)], [[0], [0, 0]])
    signals = cached(torch.zeros(2, BATCH, dtype=torch.long))
    assert signals.entry is None and signals.logits.shape == (2, 2, BATCH, CLASSES)


def test_the_schema_enum_of_variants_is_the_registry():
    schema = yaml.safe_load(SCHEMA.read_text())
    enum = schema["properties"]["students"]["properties"]["variants"]["items"]["enum"]
    assert enum == list(VARIANTS)
    keys = schema["properties"]["students"]["properties"]
    assert all(loss.coefficient in keys for loss in LOSSES.values() if loss.coefficient)


def test_every_variant_names_its_experiments_losslessly():
    students = section_defaults("students")
    config = {"students": {**students, "baseline": True, "kd1": {**students["kd1"], "teacher_archs": ["wrn16-1"]},
                           "kd2": {**students["kd2"], "pairs": [["wrn16-1", "wrn16-1"]], "alphas": [0.1, 0.3]},
                           "kd3": {**students["kd3"], "archs": ["wrn16-1"]}, "variants": list(VARIANTS),
                           "variant_kinds": ["kd1", "kd2", "kd3"]}}
    grid = experiments(config)
    assert len({e.spec for e in grid}) == len(grid)
    for e in grid:
        assert Experiment.parse(e.spec) == e, e.spec
    coefficient = coefficients(config["students"])
    camkd = [e for e in grid if e.variant == "camkd" and e.kind == "kd3"]
    assert len(camkd) == 1 and camkd[0].weights == () and "@" not in camkd[0].spec  # its own weights: one run
    assert [e.spec for e in grid if e.variant == "ann+sp"][0].endswith(f"_ann_sp{coefficient['sp']:g}")
    assert math.isclose(sum(Experiment.parse(camkd[0].spec).teacher_weights), 1)


def test_a_pack_with_a_projector_resumes_exactly_with_its_parameters(tiny, tmp_path, monkeypatch):
    """The projector's parameters are the pack's too: checkpointed every epoch, so a pack killed after an
    epoch (with live GAF and signal teachers) resumes to the same student as an uninterrupted one."""
    from gafkd.training import fit as fit_module
    from gafkd.training.runs import train_pack
    from gafkd.training.spec import Pack, RunSpec
    from helpers import TRAINING, run_files, tiny_teacher

    gaf, sig = tiny_teacher(tiny, tmp_path / "gaf"), tiny_teacher(tiny, tmp_path / "sig", modality="sig")
    live = ((gaf["weights"], "best", str(tiny / "gaf.h5")), (sig["weights"], "best", ""))
    spec = Experiment.parse("kd2_gaf-wrn16-1+sig-wrn16-1_alpha0.3_lam0.7_proj2")

    def pack(folder):
        members = tuple(RunSpec("tiny", "sig", "wrn16-1", seed, run_files(folder / f"s{seed}"), spec, (), 4.0, None,
                                live) for seed in (0, 1))
        return Pack("proj", members, str(folder / "pack"))

    whole = train_pack(pack(tmp_path / "whole"), tiny / "windows.h5", training=TRAINING)

    class Killed(Exception):
        pass

    def die(point, epoch):
        if (point, epoch) == ("after_epoch", 1):
            raise Killed

    monkeypatch.setattr(fit_module, "maybe_die", die)
    with pytest.raises(Killed):
        train_pack(pack(tmp_path / "resumed"), tiny / "windows.h5", training=TRAINING)
    saved = torch.load(tmp_path / "resumed" / "pack" / "checkpoint.pt", weights_only=True)
    assert saved["loss"]["terms.projector.weight"].shape[:2] == (2, 2)  # the projector is in the checkpoint
    monkeypatch.undo()
    resumed = train_pack(pack(tmp_path / "resumed"), tiny / "windows.h5", training=TRAINING)
    for a, b in zip(whole["members"], resumed["members"]):
        wa, wb = (torch.load(Path(m["run"]) / "weights.pt", weights_only=True)["final"] for m in (a, b))
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    metrics = json.loads(Path(resumed["members"][0]["metrics"]).read_text())
    assert metrics["resumed_from_epoch"] == 1 and len(metrics["live_teachers"]) == 2
    # the projector's term moved the student: plain KD from the same teachers, in the same pack shape, differs
    plain = Experiment.parse("kd2_gaf-wrn16-1+sig-wrn16-1_alpha0.3_lam0.7")
    members = tuple(RunSpec("tiny", "sig", "wrn16-1", seed, run_files(tmp_path / "kd" / f"s{seed}"), plain, (), 4.0,
                            None, live) for seed in (0, 1))
    kd = train_pack(Pack("kd", members, str(tmp_path / "kd" / "pack")), tiny / "windows.h5", training=TRAINING)
    kd_weights, proj_weights = (torch.load(Path(r["members"][0]["run"]) / "weights.pt", weights_only=True)["final"]
                                for r in (kd, whole))
    assert not torch.allclose(kd_weights["fc.weight"], proj_weights["fc.weight"], atol=1e-3)
