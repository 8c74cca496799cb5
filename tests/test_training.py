"""Models, losses, schedule, and the training loop's guarantees (determinism, resume, cached logits)."""

import json
import math
from pathlib import Path

import pytest
import yaml
import pandas as pd
import torch
import torch.nn.functional as F

from gafkd.distillation import LossSpec, kd_loss
from gafkd.distillation.pack import PackLoss
from gafkd.grid import experiments
from gafkd.names import Experiment
from gafkd.models import build_model, count_parameters
from gafkd.training.runs import distill
from gafkd.training.settings import TrainingSettings
from gafkd.errors import DataError
from gafkd.training.device import prepare_model
from gafkd.training.schedule import learning_rate
from gafkd.training import checkpoint as checkpoint_module
from gafkd.training.data import load_run_data
from gafkd.training.schedule import milestones
from gafkd.training.teachers import load_teacher, write_teacher_logits
from helpers import TRAINING, run_files, tiny_teacher

# the protocol's training defaults, as the schema states them (their one source)
SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[1] / "src/gafkd/schemas/config.schema.yaml").read_text())
PROTOCOL = {k: v["default"] for k, v in SCHEMA["properties"]["training"]["properties"].items()}

# --- losses -------------------------------------------------------------------------------------

@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)


def run_loss(spec, s, y, teachers=()):
    """One run's loss: a pack of one through PackLoss (the pipeline's one implementation)."""
    stacked = torch.stack(list(teachers))[None] if teachers else None
    return PackLoss([spec])(s[None], y[None], stacked)[0]


def test_lambda_zero_is_cross_entropy(logits):
    s, t, _ = logits
    y = torch.arange(8) % 5
    torch.testing.assert_close(run_loss(LossSpec((1.0,), lam=0.0, temperature=4.0), s, y, [t]), F.cross_entropy(s, y))
    torch.testing.assert_close(run_loss(LossSpec(), s, y), F.cross_entropy(s, y))


def test_kd_is_tau_squared_batchmean_kl(logits):
    s, t, _ = logits
    tau = 4.0
    p_t = F.softmax(t / tau, 1)
    manual = (p_t * (p_t.log() - F.log_softmax(s / tau, 1))).sum(1).mean() * tau**2
    torch.testing.assert_close(kd_loss(s, t, tau), manual)
    # batchmean, not mean over elements: the value does not shrink with the number of classes
    assert not math.isclose(kd_loss(s, t, tau).item(), (manual / 5).item())
    assert kd_loss(t, t, tau).abs().item() < 1e-6


def test_alpha_one_equals_one_teacher_and_weights_mix(logits):
    s, t1, t2 = logits
    y = torch.arange(8) % 5
    one = run_loss(LossSpec((1.0,), lam=0.7, temperature=4.0), s, y, [t1])
    torch.testing.assert_close(run_loss(LossSpec((1.0, 0.0), lam=0.7, temperature=4.0), s, y, [t1, t2]), one)
    mixed = run_loss(LossSpec((0.3, 0.7), lam=0.7, temperature=4.0), s, y, [t1, t2])
    expected = 0.3 * F.cross_entropy(s, y) + 0.7 * (0.3 * kd_loss(s, t1, 4) + 0.7 * kd_loss(s, t2, 4))
    torch.testing.assert_close(mixed, expected)


def test_weights_must_sum_to_one():
    with pytest.raises(Exception, match="sum to 1"):
        LossSpec((0.5, 0.4), lam=0.7, temperature=4.0)


# --- models and schedule ------------------------------------------------------------------------

def with_stage_outputs(model, x):
    """(logits, the three stage outputs [B, C, ...]) through forward hooks (the model keeps none)."""
    features = []
    hooks = [stage.register_forward_hook(lambda m, i, o: features.append(o.squeeze(2) if o.dim() == 4 and
                                                                          o.shape[2] == 1 else o))
             for stage in model.stages]
    logits = model(x)
    for hook in hooks:
        hook.remove()
    return logits, features


@pytest.mark.parametrize("arch", ["wrn16-1", "wrn16-3", "wrn28-1", "wrn28-3"])
@pytest.mark.parametrize("modality, shape", [("sig", (2, 3, 500)), ("sig", (2, 3, 1000)), ("gaf", (2, 3, 64, 64))])
def test_models_forward_backward(arch, modality, shape):
    torch.manual_seed(0)
    model = build_model(arch, modality, 14, axes=3)
    logits, features = with_stage_outputs(model, torch.randn(shape))
    assert logits.shape == (2, 14) and len(features) == 3
    width = int(arch.split("-")[1])
    assert [f.shape[1] for f in features] == [16 * width, 32 * width, 64 * width]
    F.cross_entropy(logits, torch.tensor([0, 13])).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("modality, shape", [("sig", (4, 3, 500)), ("gaf", (4, 3, 32, 32))])
def test_channels_last_is_the_same_model(modality, shape):
    """NWC (1-D) / NHWC (2-D): same state dict, same logits, features and gradients.

    Gradients are compared in float64: in float32 the BN-parameter gradients are sums that nearly
    cancel, so any change of summation order moves them by ~1 % (contiguous kernels too).
    """
    torch.manual_seed(0)
    x, y = torch.randn(shape), torch.tensor([0, 1, 2, 3])
    plain = build_model("wrn16-1", modality, 14, axes=3)
    fast = build_model("wrn16-1", modality, 14, axes=3)
    fast.load_state_dict(plain.state_dict())
    fast.to_channels_last()
    assert {k: v.shape for k, v in fast.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    (a, fa), (b, fb) = with_stage_outputs(plain, x), with_stage_outputs(fast, x)
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    assert all(f.shape == g.shape and torch.allclose(f, g, atol=1e-4) for f, g in zip(fa, fb))
    if modality == "sig":  # the NWC kernels really ran: [B, C, 1, L] activations in channels_last
        seen = []
        fast.stages[0].register_forward_hook(lambda m, i, o: seen.append(o))
        fast(x)
        assert seen[0].dim() == 4 and seen[0].is_contiguous(memory_format=torch.channels_last)
    plain, fast = plain.double(), fast.double()
    F.cross_entropy(plain(x.double()), y).backward()
    F.cross_entropy(fast(x.double()), y).backward()
    for p, q in zip(plain.parameters(), fast.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-9, atol=1e-12)


def test_parameter_counts_match_the_protocol():
    assert abs(count_parameters(build_model("wrn16-1", "sig", 14, axes=3)) - 61_000) < 1_000
    assert abs(count_parameters(build_model("wrn16-3", "sig", 14, axes=3)) - 536_000) < 1_000
    assert abs(count_parameters(build_model("wrn16-1", "gaf", 14, axes=3)) - 175_000) < 1_000
    assert abs(count_parameters(build_model("wrn28-3", "gaf", 14, axes=3)) - 3_300_000) < 10_000


def test_schedule_boundaries():
    assert milestones(200, ("1/18", "1/3", "2/3")) == (11, 66, 133)
    steps, spec = PROTOCOL["lr_steps"], PROTOCOL["lr_milestones"]
    rates = [learning_rate(e, 200, 0.05, steps, spec) for e in (0, 10, 11, 65, 66, 132, 133, 199)]
    assert rates == [0.05, 0.05, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]


def test_grid_of_the_study():
    from pathlib import Path

    from gafkd.cli import load_config

    config = load_config([str(Path(__file__).parents[1] / "config.yaml")])
    grid = experiments(config)
    kinds = [e.kind for e in grid]
    assert kinds.count("baseline") == 1 and kinds.count("kd1") == 20 and kinds.count("kd2") == 20
    for e in grid:
        assert Experiment.parse(e.spec) == e
    kd2 = Experiment.parse("kd2_gaf-wrn16-3+sig-wrn16-3_alpha0.3_lam0.7")
    assert kd2.teachers == ("gaf:wrn16-3", "sig:wrn16-3") and kd2.weights == (0.3, 0.7) and kd2.lam == 0.7
    # the later study: three teachers per arch × the notes' ten triples, each in base, ann and ann+sp
    later = {**config, "students": {**config["students"], "variants": ["base", "ann", "ann+sp"],
                                    "kd3": {**config["students"]["kd3"], "archs": ["wrn16-1", "wrn16-3"]}}}
    kd3 = [e for e in experiments(later) if e.kind == "kd3"]
    assert len(kd3) == 2 * 10 * 3 and {e.variant for e in kd3} == {"base", "ann", "ann+sp"}
    assert kd3[0].spec == "kd3_gaf-wrn16-1@0.2+pi-wrn16-1@0.2+sig-wrn16-1@0.6_lam0.7"
    assert kd3[2].spec == "kd3_gaf-wrn16-1@0.2+pi-wrn16-1@0.2+sig-wrn16-1@0.6_lam0.7_ann_sp700"
    assert all(Experiment.parse(e.spec) == e for e in kd3)
    assert sum(e.kind == "kd2" and e.variant == "ann" for e in experiments(later)) == 20  # kd2 varies too


# --- runs on a tiny synthetic dataset -----------------------------------------------------------

def _weights(path):
    return torch.load(path, weights_only=True)


def test_teacher_run_outputs(tiny, tmp_path):
    out = tiny_teacher(tiny, tmp_path / "t")
    metrics = json.loads(open(out["metrics"]).read())
    for key in ("best_test_acc", "best_epoch", "final_test_acc", "seed", "epochs", "params", "seconds", "device",
                "settings", "settings_digest", "packages", "code_version"):
        assert key in metrics, key
    history = open(out["history"]).read().splitlines()
    assert history[0] == "epoch,lr,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds"
    assert len(history) == 4 and history[1].split(",")[6:8] == ["", ""]  # no validation split here
    assert metrics["best_test_acc"] == pytest.approx(max(float(r.split(",")[5]) for r in history[1:]), abs=1e-6)
    record = _weights(out["weights"])
    assert record["best_epoch"] == metrics["best_epoch"] and set(record["final"]) == set(record["best"])
    # where the weights came from: device, torch, CUDA and cuDNN (None on this CPU-only torch)
    assert record["environment"] == metrics["environment"] and record["environment"]["torch"] == torch.__version__
    assert record["environment"]["device"].startswith("cpu") and "cudnn" in record["environment"]
    assert not (tmp_path / "t" / "checkpoint.pt").exists()
    confusion = metrics["confusion_best"]
    assert len(confusion) == 14 and sum(map(sum, confusion)) > 0
    accuracy = sum(confusion[i][i] for i in range(14)) / sum(map(sum, confusion)) * 100
    assert accuracy == pytest.approx(metrics["best_test_acc"])


def test_same_seed_same_numbers_bitwise(tiny, tmp_path):
    a, b = tiny_teacher(tiny, tmp_path / "a", "sig"), tiny_teacher(tiny, tmp_path / "b", "sig")
    wa, wb = _weights(a["weights"]), _weights(b["weights"])
    assert all(torch.equal(wa["final"][k], wb["final"][k]) for k in wa["final"])
    ma, mb = (json.loads(open(o["metrics"]).read()) for o in (a, b))
    assert ma["best_test_acc"] == mb["best_test_acc"] and ma["settings_digest"] == mb["settings_digest"]
    c = tiny_teacher(tiny, tmp_path / "c", "sig", seed=1)
    assert not torch.equal(_weights(c["weights"])["final"]["fc.weight"], wa["final"]["fc.weight"])


@pytest.mark.parametrize("arch", ["wrn16-1", "resnet8", "vgg8", "mobilenetv2-0.5", "transformer2-32"])  # every family
def test_resume_after_kill_equals_uninterrupted(tiny, tmp_path, monkeypatch, arch):
    reference = tiny_teacher(tiny, tmp_path / "ref", "sig", arch=arch)
    real_save, saves = checkpoint_module.save, []

    def save_then_die(path, state, epoch=0):
        real_save(path, state, epoch)
        saves.append(path)
        if len(saves) == 2:
            raise KeyboardInterrupt("simulated kill after epoch 2")

    monkeypatch.setattr(checkpoint_module, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        tiny_teacher(tiny, tmp_path / "run", "sig", arch=arch)
    assert (tmp_path / "run" / "checkpoint.pt").exists() and not (tmp_path / "run" / "metrics.json").exists()
    monkeypatch.setattr(checkpoint_module, "save", real_save)
    resumed = tiny_teacher(tiny, tmp_path / "run", "sig", arch=arch)
    metrics = json.loads(open(resumed["metrics"]).read())
    assert metrics["resumed_from_epoch"] == 2
    wr, wf = _weights(reference["weights"]), _weights(resumed["weights"])
    for which in ("final", "best"):
        assert all(torch.equal(wr[which][k], wf[which][k]) for k in wr[which])
    ref_history = [r.split(",")[:6] for r in open(reference["history"]).read().splitlines()]
    assert ref_history == [r.split(",")[:6] for r in open(resumed["history"]).read().splitlines()]


def test_checkpoint_from_other_settings_is_not_resumed(tiny, tmp_path):
    out = run_files(tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"truncated")
    tiny_teacher(tiny, tmp_path, "sig")
    assert json.loads(open(out["metrics"]).read())["resumed_from_epoch"] == 0


def test_a_diverged_run_is_a_result_naming_epoch_and_batch(tiny, tmp_path):
    # lr = NaN: batch 1 is computed with the initial weights, batch 2 sees the NaN update
    outputs = tiny_teacher(tiny, tmp_path, "sig", training={**TRAINING, "lr": float("nan")})
    metrics = json.loads(open(outputs["metrics"]).read())
    assert metrics["status"] == "diverged" and (metrics["diverged"]["epoch"], metrics["diverged"]["batch"]) == (1, 2)
    assert "epoch 1, batch 2: the loss is nan" in metrics["diverged"]["message"]
    assert metrics["best_test_acc"] is None and metrics["final_test_acc"] is None  # no epoch finished
    weights = _weights(outputs["weights"])
    assert weights["status"] == "diverged" and weights["final"] is None and weights["best"] is None
    with pytest.raises(DataError, match="no best weights: it diverged"):
        load_teacher(outputs["weights"])


def test_cached_and_live_teacher_give_the_same_student(tiny, tmp_path):
    teacher = tiny_teacher(tiny, tmp_path / "teacher")
    write_teacher_logits(teacher["weights"], tiny / "windows.h5", tiny / "gaf.h5", tmp_path / "logits.h5")
    spec = "kd1_gaf-wrn16-1_lam0.7"
    common = dict(dataset="tiny", spec=spec, student_arch="wrn16-1", seed=0, temperature=4.0, training=TRAINING)
    cached = run_files(tmp_path / "cached")
    distill(tiny / "windows.h5", [tmp_path / "logits.h5"], cached, **common)
    model, record = load_teacher(teacher["weights"])
    model = prepare_model(model, TrainingSettings.of(TRAINING))  # the set-up the cached logits were made with
    gaf_data = load_run_data("gaf", tiny / "windows.h5", tiny / "gaf.h5")
    gaf_data.mean, gaf_data.std, gaf_data.channels_last = record["mean"], record["std"], True
    live = run_files(tmp_path / "live")
    distill(tiny / "windows.h5", [tmp_path / "logits.h5"], live, live_teachers=[(model, gaf_data)], **common)
    wc, wl = _weights(cached["weights"]), _weights(live["weights"])
    assert all(torch.equal(wc["final"][k], wl["final"][k]) for k in wc["final"])
    baseline = run_files(tmp_path / "ce")
    distill(tiny / "windows.h5", [], baseline, **{**common, "spec": "baseline"})
    assert not torch.equal(_weights(baseline["weights"])["final"]["fc.weight"], wc["final"]["fc.weight"])
    metrics = json.loads(open(cached["metrics"]).read())
    assert (metrics["kind"], metrics["teachers"], metrics["student"], metrics["lam"]) == (
        "kd1", "gaf:wrn16-1", "sig:wrn16-1", 0.7)


def test_functional_sgd_equals_torch_optim_sgd_bitwise():
    from gafkd.training.optim import SGD

    torch.manual_seed(0)
    a = build_model("wrn16-1", "sig", 5, axes=3)
    b = build_model("wrn16-1", "sig", 5, axes=3)
    b.load_state_dict(a.state_dict())
    ours = SGD(a.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    reference = torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x, y = torch.randn(8, 3, 100), torch.arange(8) % 5
    for step in range(4):
        for model, opt in ((a, ours), (b, reference)):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        ours.lr = 0.01
        for group in reference.param_groups:
            group["lr"] = 0.01
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_fast_paths_run_and_stay_close(tiny, tmp_path):
    """channels_last (default for 2-D) and bf16 autocast train; bf16 stays near fp32 (CPU autocast)."""
    exact = tiny_teacher(tiny, tmp_path / "exact", training={**TRAINING, "channels_last": False})
    fast = tiny_teacher(tiny, tmp_path / "fast", training={**TRAINING, "channels_last": True, "precision": "bf16"})
    metrics = [json.loads(open(o["metrics"]).read()) for o in (exact, fast)]
    assert all(0 <= m["best_test_acc"] <= 100 for m in metrics)
    w_exact, w_fast = _weights(exact["weights"])["final"], _weights(fast["weights"])["final"]
    drift = max((w_exact[k].float() - w_fast[k].float()).abs().max().item() for k in w_exact if w_exact[k].is_floating_point())
    assert 0 < drift < 0.5  # different arithmetic, same training


def test_an_annealed_student_starts_from_the_student_alone(tiny, tmp_path):
    """30 epochs of the student alone; an annealed KD student's first epoch is at its level, a random
    start's is not, and the metrics say where the annealed one started."""
    long = {**TRAINING, "epochs": 30, "lr_milestones": [10, 20, 25]}
    alone = run_files(tmp_path / "alone")
    distill(tiny / "windows.h5", [], alone, dataset="tiny", spec="baseline", student_arch="wrn16-1", seed=0,
            temperature=4.0, training=long)
    teacher = tiny_teacher(tiny, tmp_path / "teacher")
    write_teacher_logits(teacher["weights"], tiny / "windows.h5", tiny / "gaf.h5", tmp_path / "logits.h5")
    first_epoch = {}
    for spec, init in (("kd1_gaf-wrn16-1_lam0.7_ann", (alone["weights"], "final")), ("kd1_gaf-wrn16-1_lam0.7", None)):
        out = run_files(tmp_path / spec)
        distill(tiny / "windows.h5", [tmp_path / "logits.h5"], out, dataset="tiny", spec=spec, student_arch="wrn16-1",
                seed=0, temperature=4.0, training={**long, "epochs": 1, "lr_milestones": [1, 1, 1], "lr": 0.001},
                init_from=init)
        first_epoch[spec] = pd.read_csv(out["history"])["test_acc"].iloc[0]
        if init:
            metrics = json.loads(open(out["metrics"]).read())
            assert metrics["init"]["from"] == alone["weights"] and metrics["init"]["weights"] == "final"
            assert metrics["settings"]["init_weights"] == "final"
    final = json.loads(open(alone["metrics"]).read())["final_test_acc"]
    from gafkd.data.store import load_windows

    noise = 2 * 100 / len(load_windows(tiny / "windows.h5").indices("test"))  # two windows of the test split
    assert first_epoch["kd1_gaf-wrn16-1_lam0.7_ann"] >= final - noise > first_epoch["kd1_gaf-wrn16-1_lam0.7"], (
        first_epoch, final)
