"""Similarity-preserving KD in packs equals a plain one-run implementation of Tung & Mori's loss."""

import pytest
import torch
import torch.nn.functional as F

from gafkd.distillation import LossSpec
from gafkd.distillation.pack import PackLoss
from gafkd.distillation.sp import member_stage_grams
from gafkd.models import build_model
from gafkd.models.fused import build_fused, member_state
from gafkd.training.data import RunData
from gafkd.training.targets import StageTeachers

N, CLASSES = 40, 5


CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA (the device check runs these)")])


def _data(inputs, device="cpu"):
    labels = torch.arange(N) % CLASSES
    return RunData(inputs=inputs, labels=labels, train_idx=torch.arange(N), test_idx=torch.arange(0),
                   mean=torch.zeros(inputs.shape[1]), std=torch.ones(inputs.shape[1]), num_classes=CLASSES,
                   windows_digest="x").to(device)


def _plain_loss(student, teachers, x_student, teacher_inputs, labels, spec: LossSpec):
    """One run, written out: CE, Hinton KD per teacher, and SP (G = A·Aᵀ, rows L2-normalised,
    ‖G_T − G_S‖²_F / b² per stage) per teacher, each teacher on exactly this run's rows."""
    b = len(labels)
    logits, stages = student(x_student, stage_outputs=True)
    loss = (1 - spec.lam) * F.cross_entropy(logits, labels)
    tau = spec.temperature
    for weight, teacher, x in zip(spec.weights, teachers, teacher_inputs):
        with torch.no_grad():
            t_logits, t_stages = teacher(x, stage_outputs=True)
        kd = F.kl_div(F.log_softmax(logits / tau, 1), F.softmax(t_logits / tau, 1), reduction="batchmean") * tau**2
        sp = 0.0
        for s, t in zip(stages, t_stages):
            gs, gt = s.reshape(b, -1) @ s.reshape(b, -1).T, t.reshape(b, -1) @ t.reshape(b, -1).T
            gs = gs / gs.norm(dim=1, keepdim=True)
            gt = gt / gt.norm(dim=1, keepdim=True)
            sp = sp + ((gt - gs) ** 2).sum() / b**2
        loss = loss + spec.lam * weight * kd + spec.sp * weight * sp
    return loss


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_pack_spkd_loss_equals_one_run_implementations(device, monkeypatch):
    torch.manual_seed(0)
    # fp32 convolutions on both sides on CUDA (cuBLAS matmuls are fp32 by default)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    signals = _data(torch.randn(N, 3, 64), device)
    images = _data(torch.randn(N, 3, 16, 16), device)
    image_teacher = build_model("wrn16-1", "gaf", CLASSES).to(device).eval()
    signal_teacher = build_model("wrn16-1", "sig", CLASSES).to(device).eval()
    seeds = [3, 4]
    student = build_fused("wrn16-1", "sig", CLASSES, seeds).to(device)
    specs = [LossSpec((0.3, 0.7), 0.7, 4.0, 700.0), LossSpec((1.0,), 0.5, 4.0, 200.0)]
    slots = [[0, 1], [0]]  # member 0: image + signal teachers; member 1: the image teacher alone
    teachers = StageTeachers([(image_teacher, images), (signal_teacher, signals)], slots)
    idx = torch.stack([torch.randperm(N)[:8], torch.randperm(N)[:8]]).to(device)  # each member's own rows
    labels = signals.labels[idx]
    logits, stages = student(signals.pack_batch(idx), stage_outputs=True)
    teacher_logits, teacher_grams = teachers(idx)
    ours = PackLoss(specs, device)(logits, labels, teacher_logits, (member_stage_grams(stages, 2), teacher_grams))

    for m, spec in enumerate(specs):
        plain = build_model("wrn16-1", "sig", CLASSES).to(device)
        plain.load_state_dict(member_state(student.state_dict(), m, 2))
        plain.train()
        rows = idx[m]
        mine = [image_teacher, signal_teacher][:len(spec.weights)]
        inputs = [images.batch(rows), signals.batch(rows)][:len(spec.weights)]
        reference = _plain_loss(plain, mine, signals.batch(rows), inputs, labels[m], spec)
        assert torch.allclose(ours[m], reference, rtol=1e-6, atol=1e-6), (m, ours[m].item(), reference.item())


def test_without_sp_the_stage_outputs_are_never_asked_for():
    """Cached-logit students pay nothing for SPKD: no stage output is kept, the loss takes no Gram matrices."""
    loss = PackLoss([LossSpec((1.0,), 0.7, 4.0)])
    assert not loss.spkd and loss.beta.tolist() == [0.0]
    model = build_model("wrn16-1", "sig", CLASSES)
    assert isinstance(model(torch.randn(2, 3, 64)), torch.Tensor)
