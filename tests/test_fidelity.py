"""Golden tests of docs/fidelity.md: each setting where gafkd follows the lab's public code (jeunsom/TDA_KD) or a
baseline's repository, checked on hand-made inputs against that source's formula written out here in float64
(numpy where the source is numpy, plain loops where it is a loop). The PAMAP2 reader's rows (rows dropped, fill
order, window starts) are in tests/test_pamap2.py."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from gafkd.cli import load_config
from gafkd.data import pamap2
from gafkd.distillation import LossSpec
from gafkd.distillation.camkd_features import CAMKDFeatureTerm, resize_matrix
from gafkd.distillation.pack import PackLoss
from gafkd.distillation.registry import KD_FORMS, VARIANTS, WEIGHTINGS, recipe_of, recipe_text, variant_label
from gafkd.distillation.signals import StudentOutputs, TeacherSignals
from gafkd.plan.packing import student_packs
from gafkd.config import report_config
from gafkd.grid import dataset_training, for_dataset
from gafkd.names import Experiment
from gafkd.reporting.tables import DatasetTables
from gafkd.schema import load_schema
from gafkd.training.data import channel_stats, load_run_data
from gafkd.training.runs import _member_loss
from gafkd.training.settings import TrainingSettings
from gafkd.training.spec import RunSpec

B, K = 6, 12  # a batch of the lab's 12 PAMAP2 classes


def logits(seed, scale=4.0):
    return np.random.default_rng(seed).normal(0, scale, (B, K))


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def cross_entropy(z, y):
    return -log_softmax(z)[np.arange(len(y)), y].mean()


def kl_div_mean(log_input, target):
    """torch's nn.KLDivLoss() (reduction 'mean'): target · (log target − input), averaged over every element."""
    return (target * (np.log(target) - log_input)).mean()


def lab_loss(student, image_teacher, signal_teacher, y, lam=0.99, alpha=0.7, tau=4.0):
    """train_ad.py's student loss, line by line: stds = std(output) (unbiased); CE(output / stds);
    KLDivLoss()(log_softmax(output · 2 / stds), softmax(teacher · 2 / stdt)) per teacher; then
    (1 − λ)·CE + α·λ·T²·KD(image) + (1 − α)·λ·T²·KD(signal)."""
    stds = student.std(axis=1, ddof=1, keepdims=True)
    loss_sl = cross_entropy(student / stds, y)
    kd = []
    for teacher in (image_teacher, signal_teacher):
        stdt = teacher.std(axis=1, ddof=1, keepdims=True)
        kd.append(kl_div_mean(log_softmax(student * 2.0 / stds), np.exp(log_softmax(teacher * 2.0 / stdt))))
    return (1 - lam) * loss_sl + alpha * lam * tau * tau * kd[0] + (1 - alpha) * lam * tau * tau * kd[1]


CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA (the device check runs these)")])


def pack_loss(spec: LossSpec, student, teachers, y, cross_entropy="plain", device="cpu"):
    loss = PackLoss([spec], device, cross_entropy=cross_entropy).double()
    s = torch.from_numpy(student).unsqueeze(0).to(device)
    t = torch.from_numpy(np.stack(teachers)).unsqueeze(0).to(device)
    return float(loss(s, torch.from_numpy(y).unsqueeze(0).to(device), t)[0])


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("scale", [1.0, 4.0, 10.0])
def test_the_lab_kd_and_its_standardised_cross_entropy_equal_train_ad(scale, device):
    student, image, signal = logits(0, scale), logits(1, scale), logits(2, scale)
    y = np.arange(B) % K
    spec = LossSpec((0.7, 0.3), 0.99, 4.0, kd=KD_FORMS["lab"])
    ours = pack_loss(spec, student, [image, signal], y, cross_entropy="standardised", device=device)
    assert ours == pytest.approx(lab_loss(student, image, signal, y), rel=1e-6, abs=1e-9)
    # and it is not Hinton KD: the forms differ by far more than round-off at every logit scale
    hinton = pack_loss(LossSpec((0.7, 0.3), 0.99, 4.0), student, [image, signal], y)
    assert abs(hinton - ours) > 0.05 * abs(ours)


def test_a_constant_row_of_logits_is_uniform_not_nan():
    """σ = 0 (a pack's spare teacher slot is zeros): the lab would divide by zero; the softmax is uniform anyway."""
    student, y = logits(0), np.arange(B) % K
    flat = np.zeros((B, K))
    value = pack_loss(LossSpec((1.0,), 0.5, 4.0, kd=KD_FORMS["lab"]), student, [flat], y, "standardised")
    stds = student.std(axis=1, ddof=1, keepdims=True)
    expected = 0.5 * cross_entropy(student / stds, y) + 0.5 * 16 * kl_div_mean(log_softmax(2 * student / stds),
                                                                              np.full((B, K), 1 / K))
    assert value == pytest.approx(expected, rel=1e-6)


def test_window_standardisation_divides_by_the_mean_of_per_window_stds():
    """data_loader_custom.py: mean over (windows, positions); std = mean over windows of np.std(window) per channel
    (population); images: a zero std becomes machine epsilon."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (10, 3, 50)) * np.array([1.0, 5.0, 0.0])[:, None] + np.array([0.0, 2.0, 7.0])[:, None]
    rows = np.arange(2, 10)
    mean, std = channel_stats(x.astype(np.float32), rows, chunk=3, standardisation="window")
    part = x.astype(np.float32).astype(np.float64)[rows]
    np.testing.assert_allclose(mean, part.mean(axis=(0, 2)), rtol=1e-12)
    expected = np.mean([[part[i, c].std() for c in range(3)] for i in range(len(rows))], axis=0)
    np.testing.assert_allclose(std[:2], expected[:2], rtol=1e-12)
    assert std[2] == np.finfo(float).eps  # the constant channel
    pooled_mean, pooled = channel_stats(x.astype(np.float32), rows, standardisation="pooled")
    np.testing.assert_allclose(pooled[:2], part.transpose(1, 0, 2).reshape(3, -1).std(axis=1)[:2], rtol=1e-9)
    assert not np.allclose(pooled[:2], std[:2], rtol=1e-3)  # the two rules differ on these windows


def write_windows(path, signals, split):
    with h5py.File(path, "w") as h5:
        h5["signals"] = signals.astype(np.float32)
        h5["labels"] = np.arange(len(signals)) % 2
        h5["subjects"] = np.array(["a"] * len(signals), dtype="S")
        h5["split"] = np.array(split, dtype="S")
        h5.attrs["class_names"] = json.dumps(["p", "q"])
        h5.attrs["settings_digest"] = "d"


def test_fixed_signal_scaling_is_the_labs_normalize_then_standardisation(tmp_path):
    """preprocessing_pamap2_2.normalize: (x − min)/(max − min), > 1 → 0.99, < 0 → 0; then the loader's
    standardisation of what that left (window rule here, as the lab)."""
    rng = np.random.default_rng(4)
    signals = rng.normal(0, 3, (8, 2, 20))
    write_windows(tmp_path / "w.h5", signals, ["train"] * 6 + ["test"] * 2)
    limits = {"min": [-2.0, -4.0], "max": [2.0, 3.0]}
    data = load_run_data("sig", tmp_path / "w.h5", inputs={
        "standardisation": "window", "signal_scaling": {"kind": "fixed", "limits": limits}})
    low, high = np.array(limits["min"])[:, None], np.array(limits["max"])[:, None]
    lab = (signals.astype(np.float32).astype(np.float64) - low) / (high - low)
    lab[lab > 1] = 0.99
    lab[lab < 0] = 0.0
    assert (lab == 0.99).any() and (lab == 0.0).any()
    mean = lab[:6].mean(axis=(0, 2))
    std = np.mean([[lab[i, c].std() for c in range(2)] for i in range(6)], axis=0)
    expected = (lab - mean[:, None]) / std[:, None]
    np.testing.assert_allclose(data.batch(torch.arange(8)).numpy(), expected, atol=1e-5)
    assert data.inputs_record == {"standardisation": "window", "signal_scaling": {"kind": "fixed", "limits": limits}}
    plain = load_run_data("sig", tmp_path / "w.h5")  # the default: raw units, pooled
    assert plain.inputs_record == {"standardisation": "pooled", "signal_scaling": "none"}
    assert not np.allclose(plain.batch(torch.arange(8)).numpy(), expected, atol=1e-2)


# -- the baselines' recipes, against their repositories' formulas ---------------------------------------------

def kl_per_sample(student, teacher, tau):
    """RepDistiller's DistillKL with is_ca (CA-MKD's criterion_div): KL(p_T ‖ p_S) at τ, summed over classes, × τ²."""
    p_t = np.exp(log_softmax(teacher / tau))
    return (p_t * (np.log(p_t) - log_softmax(student / tau))).sum(axis=1) * tau * tau


def student_run(variant, teachers, lam=0.7, authors=True, temperature=4.0):
    e = Experiment("kd3", tuple(teachers), (), lam=lam, variant=variant, extras=
                   (("projector", 2.0),) if VARIANTS[variant].losses else ())
    return RunSpec("d", "sig", "wrn16-1", 0, {}, e, temperature=temperature, authors_recipe=authors)


@pytest.mark.parametrize("rule", ["camkd", "ebkd"])
def test_camkd_and_ebkd_by_their_repository_scale_the_kd_sum_by_the_teacher_count(rule):
    """helper/loops.py (CA-MKD): loss_div = Σ_k Σ_b a_kb · KD_kb / (bsz · K), with a = (1 − softmax_k(CE_k)) / (K − 1)
    (CAMKD) or a = 1 − H_k / Σ H (EBKD); loss = γ·CE + α·loss_div with scripts/run.sh's γ = α = 1 (CAMKD's
    feature term, β = 50, is tested below)."""
    student, y, lam = logits(5), np.arange(B) % K, 0.7
    teachers = [logits(6), logits(7), logits(8)]
    if rule == "camkd":
        ce = np.stack([-log_softmax(t)[np.arange(B), y] for t in teachers])
        a = (1 - np.exp(ce - ce.max(0)) / np.exp(ce - ce.max(0)).sum(0)) / (len(teachers) - 1)
    else:
        h = np.stack([-(np.exp(log_softmax(t)) * log_softmax(t)).sum(1) for t in teachers])
        a = 1 - h / h.sum(0)
    div = sum(a[k] @ kl_per_sample(student, t, 4.0) for k, t in enumerate(teachers)) / (B * len(teachers))
    run = student_run(rule, ["gaf:wrn16-1", "pi:wrn16-1", "sig:wrn16-1"], lam)
    spec = _member_loss(run)
    assert dict(spec.extras) == ({"camkd_features": 50.0} if rule == "camkd" else {})
    logit_part = LossSpec(spec.weights, spec.lam, spec.temperature, spec.weighting, (), spec.kd, spec.ce_weight,
                          spec.kd_weight)
    expected = cross_entropy(student, y) + div
    assert pack_loss(logit_part, student, teachers, y) == pytest.approx(expected, rel=1e-6)
    shared = pack_loss(_member_loss(student_run(rule, run.experiment.teachers, lam, authors=False)), student,
                       teachers, y)
    ratio = len(teachers) if rule == "camkd" else len(teachers) / (len(teachers) - 1)
    assert shared - (1 - lam) * cross_entropy(student, y) == pytest.approx(ratio * lam * div, rel=1e-6)


def test_the_projector_by_its_authors_weighs_ce_logsum_and_kd_1_2_1_at_t_1():
    run = student_run("proj", ["gaf:wrn16-1"], lam=0.7)
    spec = _member_loss(run)
    assert spec.temperature == 1.0 and dict(spec.extras) == {"projector": 2.0}
    assert spec.coefficient("kd") == 1.0 and spec.ce_weight == 1.0
    shared = _member_loss(student_run("proj", ["gaf:wrn16-1"], lam=0.7, authors=False))
    assert shared.temperature == 4.0 and shared.ce_weight is None and shared.coefficient("kd") == pytest.approx(0.7)
    student, teacher, y = logits(9), logits(10), np.arange(B) % K
    no_projector = LossSpec(spec.weights, spec.lam, spec.temperature, kd=spec.kd, ce_weight=1.0, kd_weight=1.0)
    expected = cross_entropy(student, y) + kl_per_sample(student, teacher, 1.0).mean()
    assert pack_loss(no_projector, student, [teacher], y) == pytest.approx(expected, rel=1e-6)


def test_tables_say_which_form_of_a_baseline_ran():
    assert variant_label({}, "camkd") == "CAMKD (authors')"
    assert recipe_text({}, "camkd") == "CAMKD by its authors: CE 1 : KD 1/K + 50 · features, T = 4"
    assert variant_label({"recipes": {"camkd": "shared"}}, "camkd") == "CAMKD (shared λ, τ)"
    assert variant_label({}, "ann+sp") == "ann+sp"
    assert recipe_of({"recipes": {"proj": "shared"}}, "proj") is None


def test_the_schema_names_every_kd_form_and_every_baseline_recipe():
    students = load_schema()["properties"]["students"]["properties"]
    assert students["kd_loss"]["enum"] == list(KD_FORMS)
    assert set(students["recipes"]["properties"]) == {n for n, v in VARIANTS.items() if v.authors}
    assert WEIGHTINGS["ebkd"].paper.startswith("Kwon, Na, Lee & Kim, Adaptive Knowledge Distillation Based on Entropy")


FIDELITY = Path(__file__).resolve().parents[1] / "docs" / "fidelity.md"
STATUSES = {"same", "switch", "adapted", "n/a"}


def test_every_row_of_the_fidelity_table_names_a_test_that_exists():
    """docs/fidelity.md: each row's status is one of the four (none 'different') and its test is a real test."""
    rows = [line for line in FIDELITY.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| setting") and not line.startswith("|---")]
    assert len(rows) >= 30
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        status, test = cells[-2], cells[-1].strip("`")
        assert status in STATUSES, row
        path, name = test.split("::")
        source = (FIDELITY.parents[1] / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"{test} (in: {cells[0]})"


# -- config.yaml's pamap2 entry is the lab's public pipeline ------------------------------------------------

def test_config_yaml_pamap2_runs_the_labs_public_pipeline(tmp_path):
    config = load_config(["config.yaml"])
    fold = "pamap2_fold101"
    training = dataset_training(config, fold)
    assert training["batch_size"] == 128 and training["standardisation"] == "window"
    assert training["cross_entropy"] == "standardised"
    assert training["signal_scaling"] == {"kind": "fixed", "limits": {"min": [float(v) for v in pamap2.LAB_MIN],
                                                                        "max": [float(v) for v in pamap2.LAB_MAX]}}
    source = config["datasets"][fold]["source"]
    assert source.get("fill_order", pamap2.DEFAULTS["fill_order"]) == "after_drop"
    assert source.get("window_starts", pamap2.DEFAULTS["window_starts"]) == "lab"
    members = [m for p in student_packs(config, str(tmp_path), fold) for m in p.members]
    kd = [m for m in members if m.experiment.teachers]
    assert kd and {m.kd for m in kd} == {KD_FORMS["lab"]}
    assert any(m.experiment.teachers[0].startswith("pi:") for m in kd if m.experiment.kind == "kd2")
    view = for_dataset(config, fold)
    students = view["students"]
    assert students["kd2"]["lam"] == 0.99 and students["kd2"]["alphas"] == [0.7] and students["temperature"] == 4
    assert view["teachers"]["modalities"][0] == "pi" and students["kd2"]["representations"][0] == "pi"
    assert (training["epochs"], training["lr"], training["lr_steps"], training["lr_milestones"]) == \
        (200, 0.05, [0.01, 0.001, 0.0001], ["1/18", "1/3", "2/3"])
    assert (training["momentum"], training["weight_decay"], config["selection"]) == (0.9, 1e-4, "test")
    # the report's protocol line names the KD form, cross-entropy, standardisation, scaling and batch size
    line = DatasetTables(report_config(config, TrainingSettings.of(config["training"]).identity()), "pamap2",
                         pd.DataFrame(columns=["dataset"]), members=[fold]).protocol_note()
    for words in ("KD form: KD (logit-standardised, the lab's)", "cross-entropy standardised",
                  "by the mean per-window std", "scaled to [0, 1] by fixed limits", "batch 128"):
        assert words in line, line
    # the GENEActiv variants keep the notes' settings: Hinton KD, pooled, raw units, batch 64
    gene = dataset_training(config, "gene14_w500")
    assert (gene["batch_size"], gene["standardisation"], gene["signal_scaling"], gene["cross_entropy"]) == \
        (64, "pooled", "none", "plain")
    # at the values every earlier run had, the new settings stay out of a run's identity: digests are kept
    assert not {"standardisation", "signal_scaling", "cross_entropy"} & set(TrainingSettings.of(gene).identity())
    assert {"standardisation", "signal_scaling", "cross_entropy"} <= set(TrainingSettings.of(training).identity())


def test_resizing_is_adaptive_average_pooling_or_linear_interpolation():
    x = torch.randn(2, 3, 13, dtype=torch.float64)
    for target in (1, 5, 9, 13):
        torch.testing.assert_close(x @ resize_matrix(13, target), torch.nn.functional.adaptive_avg_pool1d(x, target))
    for target in (16, 64):
        torch.testing.assert_close(x @ resize_matrix(13, target),
                                   torch.nn.functional.interpolate(x, size=target, mode="linear"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_the_camkd_feature_term_equals_the_repositorys_formula(device):
    """distiller_zoo/CAMKD.py on models/util.py's CalWeight: the student map resized to each teacher's map, through
    Embed (1×1 conv, BN in training mode, ReLU), the teacher's avgpool + fc on it, w = (1 − softmax_k(CE_k)) / (K − 1)
    per sample, MSE per sample over the map, Σ w · MSE / (bsz · K); nothing in the first epoch."""
    F_ = torch.nn.functional
    g = torch.Generator().manual_seed(0)
    b, classes = 5, 4
    s_map = torch.randn(b, 16, 13, generator=g, dtype=torch.float64)
    t_maps = [torch.rand(b, 8, 4, 4, generator=g, dtype=torch.float64), torch.rand(b, 6, 9, generator=g,
                                                                                  dtype=torch.float64)]
    heads = [(torch.randn(classes, 8, generator=g, dtype=torch.float64), torch.randn(classes, generator=g,
                                                                                     dtype=torch.float64), (8, 4, 4)),
             (torch.randn(classes, 6, generator=g, dtype=torch.float64), torch.randn(classes, generator=g,
                                                                                     dtype=torch.float64), (6, 9))]
    y = torch.arange(b) % classes
    s_map, t_maps, y = s_map.to(device), [t.to(device) for t in t_maps], y.to(device)
    heads = [(w.to(device), c.to(device), shape) for w, c, shape in heads]
    spec = LossSpec((0.5, 0.5), 0.7, 4.0, "camkd", (("camkd_features", 50.0),))
    term = CAMKDFeatureTerm([spec], device, seeds=[3], student_dim=16, teacher_heads=[heads]).double()
    student = StudentOutputs(torch.zeros(1, b, classes, dtype=torch.float64, device=device), map=s_map.unsqueeze(0))
    teachers = TeacherSignals(None, torch.tensor([[0, 1]], device=device), maps=t_maps)
    term.set_epoch(0)
    assert term(student, teachers, None, y.unsqueeze(0)).item() == 0.0
    term.set_epoch(1)
    got = term(student, teachers, None, y.unsqueeze(0))

    adapted, ce, mse = [], [], []
    for t, (target, (weight, bias, shape)) in enumerate(zip(t_maps, heads)):
        positions = int(np.prod(shape[1:]))
        resized = (F_.interpolate(s_map, size=positions, mode="linear") if positions > 13
                   else F_.adaptive_avg_pool1d(s_map, positions)).reshape(b, 16, *shape[1:])
        adapter = term.adapters[f"0_{t}"]
        conv = torch.einsum("oc,bc...->bo...", adapter.conv.weight.flatten(1), resized) + \
            adapter.conv.bias.view(1, -1, *[1] * (len(shape) - 1))
        axes = (0, *range(2, conv.dim()))
        mean, var = conv.mean(axes, keepdim=True), conv.var(axes, unbiased=False, keepdim=True)
        view = (1, -1, *[1] * (len(shape) - 1))
        a = torch.relu((conv - mean) / torch.sqrt(var + adapter.bn.eps) * adapter.bn.weight.view(view)
                       + adapter.bn.bias.view(view))
        logits = a.mean(dim=tuple(range(2, a.dim()))) @ weight.T + bias
        ce.append(F_.cross_entropy(logits, y, reduction="none"))
        mse.append(((a - target) ** 2).reshape(b, -1).mean(1))
    w = (1 - torch.softmax(torch.stack(ce), 0)) / (2 - 1)
    expected = (w * torch.stack(mse)).sum() / (b * 2)
    assert got.item() == pytest.approx(expected.item(), rel=1e-9)
    got.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in term.parameters())  # the adapters learn
