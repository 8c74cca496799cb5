"""What a GPU run depends on, tested without one: memory estimates, packs planned from the config, numerics.

The CUDA-only checks are marked ``cuda`` (``pytest -m cuda``; skipped without CUDA) and run in the
device check (``gafkd bench --cuda-check``).
"""

import json
import os
import re
import stat
import subprocess

import pytest
import torch
import yaml

from gafkd.bench.device_check import saved_activation_bytes
from gafkd.cli import load_config
from gafkd.errors import ConfigError
from gafkd.training.settings import TrainingSettings
from gafkd.plan.packing import MEMORY_BUDGET, pack_width, planned_memory, student_packs, teacher_packs
from gafkd.models.families import family_of
from gafkd.models.fused import build_fused
from gafkd.models.memory import EVAL_ROWS_MAX, activations, eval_rows, pack_memory, parameters
from gafkd.models import count_parameters
from gafkd.training import runs as runs_module
from gafkd.training.device import DeviceError, configure, determinism_error, select_device, set_tf32, tf32_enabled
from gafkd.training.runs import PackMemoryError, train_pack
from gafkd.training.spec import Pack, RunSpec
from helpers import ROOT, SNAKEMAKE, TRAINING, run_files

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the device check runs these)")


# --- memory: the estimate is the model's ------------------------------------------------------------

@pytest.mark.parametrize("arch", ["wrn16-1", "wrn16-3", "wrn28-1", "wrn40-1", "resnet8", "resnet20", "vgg8",
                                  "mobilenetv2-0.5"])
@pytest.mark.parametrize("modality, positions", [("sig", (250,)), ("sig", (301,)), ("gaf", (16, 16)),
                                                 ("gaf", (31, 31))])
@pytest.mark.parametrize("members, channels_last", [(1, False), (3, True)])
def test_activation_estimate_is_what_autograd_saves(arch, modality, positions, members, channels_last):
    _check_activations(arch, modality, positions, members, channels_last)


@pytest.mark.parametrize("arch", ["transformer3-64", "transformer2-32-p20s10"])  # signals only
@pytest.mark.parametrize("positions", [(250,), (301,)])
@pytest.mark.parametrize("members, channels_last", [(1, False), (3, True)])
def test_a_transformers_activation_estimate_is_what_autograd_saves(arch, positions, members, channels_last):
    _check_activations(arch, "sig", positions, members, channels_last)


def _check_activations(arch, modality, positions, members, channels_last):
    model = build_fused(arch, modality, 7, list(range(members)), axes=3)
    if channels_last:
        model = model.to_channels_last()
    batch = 16
    x = torch.randn(batch, 3 * members, *positions)
    if channels_last and modality == "gaf":
        x = x.contiguous(memory_format=torch.channels_last)
    measured = saved_activation_bytes(model.train(), x)
    estimate = activations(arch, 3, positions).saved * 4 * batch * members
    # 3 %: batch norm's per-channel statistics are per batch, not per sample (MobileNetV2's 960-channel
    # expansions at 1×1 positions add 2.1 % at batch 16); every other part is counted exactly
    assert 0.99 <= measured / estimate <= 1.03, (measured, estimate)


@pytest.mark.parametrize("arch", ["wrn16-1", "wrn28-3", "wrn40-1", "resnet8", "resnet20", "resnet44", "vgg8", "vgg13",
                                  "mobilenetv2-0.5", "mobilenetv2-1", "transformer3-64", "transformer2-32-p20s10"])
def test_parameter_count_is_the_models(arch):
    for dims in family_of(arch).dims:  # the inputs the family is built for
        modality = "sig" if dims == 1 else "gaf"
        assert parameters(arch, 3, dims, 14) == count_parameters(build_fused(arch, modality, 14, [0], axes=3))


def test_evaluation_rows_shrink_with_the_pack_width():
    acts = activations("wrn16-1", 3, (1000,))
    rows = {m: eval_rows(acts, m) for m in (1, 4, 16, 64)}
    assert rows[1] == EVAL_ROWS_MAX and rows[1] >= rows[4] > rows[16] > rows[64] >= 1
    # the evaluation pass's memory is bounded whatever the width (the 60-member case of issue 20)
    assert all(pack_memory("wrn16-1", 3, (1000,), m, 64, 70_000).evaluation <= 256 * 2**20 for m in (1, 16, 60, 64))


def test_every_auto_pack_of_the_study_fits_the_budget():
    config = load_config([str(ROOT / "config.yaml")])
    assert config["training"]["device"] == "cuda"
    for dataset in config["datasets"]:
        for pack in teacher_packs(config, "r", dataset) + student_packs(config, "r", dataset):
            first = pack.members[0]
            assert planned_memory(config, dataset, first.modality, first.arch, pack.width).peak <= MEMORY_BUDGET, pack.name
    # and the cap really binds: 64 students of 1000-sample windows would not fit
    assert pack_width(config, "gene7_w1000", "students", "sig", "wrn16-1") < 64
    assert planned_memory(config, "gene7_w1000", "sig", "wrn16-1", 64).peak > MEMORY_BUDGET


# --- packs are the config's, not the host's --------------------------------------------------------

def _fake_nvidia_smi(folder, mib=(24564, 24564)):
    """A fake nvidia-smi: ``-L`` lists the cards, ``--query-gpu=memory.total`` gives their MiB."""
    folder.mkdir()
    script = folder / "nvidia-smi"
    listing = "".join(f"echo 'GPU {i}: NVIDIA GeForce RTX 4090 (UUID: GPU-{i})'\n" for i in range(len(mib)))
    memory = "".join(f"echo {m}\n" for m in mib)
    script.write_text(f'#!/bin/sh\nif [ "$1" = "-L" ]; then\n{listing}else\n{memory}fi\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def _dry_run(workdir, path, *profile):
    overlay = workdir / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"report": {"html": False}}))
    command = [*SNAKEMAKE[:-2], *(profile or ("--workflow-profile", "none")), "--directory", str(workdir),
               "--configfile", str(ROOT / "config.yaml"), str(overlay), "-n"]
    environment = {**os.environ, "PATH": path}
    environment.pop("CUDA_VISIBLE_DEVICES", None)
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return planned_jobs(run.stdout)


def planned_jobs(dry_run: str) -> list[tuple]:
    """Every job of a dry run: its rule (the pack), inputs, outputs and resources (files sorted)."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule )", dry_run.split("Building DAG of jobs...")[1])[1:]:
        lines = block.splitlines()
        fields = dict(line.strip().split(": ", 1) for line in lines[1:] if re.match(r"    (input|output|resources): ",
                                                                                       line))
        jobs.append((lines[0], *(tuple(sorted(fields.get(k, "").split(", "))) for k in ("input", "output",
                                                                                          "resources"))))
    return sorted(jobs)


def _jobs(plan, rule: str, dataset: str) -> int:
    """How many jobs of ``rule`` (its packs) the plan has for ``dataset``."""
    return sum(job[0] == f"rule {rule}:" and f"results/{dataset}/packs/" in job[2][0] for job in plan)


@pytest.mark.slow
def test_dry_run_plans_the_same_packs_with_and_without_a_driver(tmp_path):
    """config.yaml (training.device: cuda) on a login node without nvidia-smi plans GPU packs."""
    bare = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not os.path.exists(os.path.join(p, "nvidia-smi")))
    with_driver = os.pathsep.join([str(_fake_nvidia_smi(tmp_path / "bin")), bare])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    without, with_gpu = _dry_run(tmp_path / "a", bare), _dry_run(tmp_path / "b", with_driver)
    assert without == with_gpu
    # GPU widths: 3 teacher seeds a pack (8 packs), the students in 2 packs per dataset, each holding a GPU
    assert _jobs(without, "train_teacher", "gene14_w500") == 8 and _jobs(without, "distill", "gene14_w500") == 2
    assert all("gpu=1" in job[3] for job in without if job[0] == "rule distill:")


@pytest.mark.slow
def test_the_slurm_profile_plans_gpu_packs_without_a_driver(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason='needs pip install -e ".[cluster]"')
    bare = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not os.path.exists(os.path.join(p, "nvidia-smi")))
    plan = _dry_run(tmp_path, bare, "--workflow-profile", str(ROOT / "profiles" / "slurm"),
                    "--slurm-no-account", "--slurm-status-command", "squeue")
    assert _jobs(plan, "train_teacher", "gene7_w1000") == 8 and _jobs(plan, "distill", "gene7_w1000") == 2


# --- nothing silent -------------------------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda_stops_saying_why(tiny, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "NoDevFiles")
    with pytest.raises(DeviceError, match=r"training.device is cuda, but this job holds 1 GPU\(s\) but sees no CUDA "
                                          r"device .*CUDA_VISIBLE_DEVICES='NoDevFiles'.*or set training.device: cpu"):
        select_device("cuda", gpus_held=1)
    outputs = run_files(tmp_path / "run")
    pack = Pack("p", (RunSpec("tiny", "sig", "wrn16-1", 0, outputs),), str(tmp_path / "pack"))
    with pytest.raises(DeviceError):
        train_pack(pack, tiny / "windows.h5", training={**TRAINING, "device": "cuda"}, gpus=1)
    assert not any((tmp_path / "run").iterdir())  # nothing written


@pytest.fixture
def restore_torch_flags():
    flags = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision,
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic, torch.get_num_threads())
    yield
    torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision = flags[:2]
    torch.use_deterministic_algorithms(flags[2], warn_only=flags[3])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = flags[4:6]
    torch.set_num_threads(flags[6])


def test_fp32_turns_tf32_off_and_determinism_is_strict(restore_torch_flags):
    """The flags a CUDA job sets (set without a GPU: torch only records them)."""
    set_tf32(True)  # PyTorch's cuDNN default
    record = configure(1, TrainingSettings.of({"precision": "fp32"}), torch.device("cuda"))
    # the current API only (mixing it with the deprecated allow_tf32 flags has failed under torch.compile)
    assert torch.backends.cudnn.conv.fp32_precision == torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert not tf32_enabled()
    assert torch.are_deterministic_algorithms_enabled() and not torch.is_deterministic_algorithms_warn_only_enabled()
    assert record == {"precision": "fp32", "computed_in": "fp32", "tf32": False, "deterministic": "strict"}
    record = configure(1, TrainingSettings.of({"precision": "tf32", "deterministic": False}), torch.device("cuda"))
    assert tf32_enabled() and torch.backends.cudnn.conv.fp32_precision == "tf32"
    assert not torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.benchmark
    assert record["computed_in"] == "tf32" and record["deterministic"] == "off"
    # TF32 is CUDA's: on the CPU the same setting computes in fp32, and says so
    assert configure(1, TrainingSettings.of({"precision": "tf32"}), torch.device("cpu"))["computed_in"] == "fp32"


def test_bf16_on_a_card_without_bf16_tensor_cores_says_so(restore_torch_flags, monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100-SXM2-16GB")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    with caplog.at_level("WARNING"):
        configure(1, TrainingSettings.of({"precision": "bf16"}), torch.device("cuda"))
    assert "Tesla V100" in caplog.text and "compute capability 7.0" in caplog.text and "slower than fp32" in caplog.text
    caplog.clear()
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    configure(1, TrainingSettings.of({"precision": "bf16"}), torch.device("cuda"))
    assert not caplog.text


@pytest.mark.parametrize("modality", ["sig", "gaf"])
def test_models_use_no_op_that_strict_cuda_determinism_refuses(modality):
    """torch.use_deterministic_algorithms(True) raises on CUDA for these modules' backward (PyTorch's list)."""
    refused = (torch.nn.AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveMaxPool1d,
               torch.nn.AdaptiveMaxPool2d, torch.nn.MaxPool3d, torch.nn.Upsample, torch.nn.ReflectionPad1d,
               torch.nn.ReflectionPad2d, torch.nn.ReplicationPad1d, torch.nn.ReplicationPad2d, torch.nn.EmbeddingBag,
               torch.nn.CTCLoss, torch.nn.FractionalMaxPool2d)
    for members in (1, 3):
        model = build_fused("wrn16-3", modality, 7, list(range(members)), axes=3)
        assert not [type(m).__name__ for m in model.modules() if isinstance(m, refused)]


def test_an_op_without_a_deterministic_kernel_is_named():
    error = RuntimeError("adaptive_max_pool2d_backward_cuda does not have a deterministic implementation, but you set "
                         "'torch.use_deterministic_algorithms(True)'. ...")
    assert "adaptive_max_pool2d_backward_cuda has no deterministic CUDA kernel: set training.deterministic: false" \
        in str(determinism_error(error))
    assert determinism_error(RuntimeError("something else")) is None


def test_numerics_are_recorded(tiny, tmp_path):  # noqa: F811
    outputs = run_files(tmp_path / "run")
    pack = Pack("p", (RunSpec("tiny", "sig", "wrn16-1", 0, outputs),), str(tmp_path / "pack"))
    train_pack(pack, tiny / "windows.h5", training={**TRAINING, "epochs": 1, "precision": "tf32"})
    metrics = json.loads(open(outputs["metrics"]).read())
    assert metrics["numerics"] == {"precision": "tf32", "computed_in": "fp32", "tf32": False,
                                   "deterministic": "cpu kernels"}
    assert metrics["memory_estimate_bytes"] > 0


def test_out_of_memory_is_one_sentence_with_a_width_that_fits(tiny, tmp_path, monkeypatch):  # noqa: F811
    members = tuple(RunSpec("tiny", "sig", "wrn16-1", s, run_files(tmp_path / f"run{s}")) for s in range(3))
    pack = Pack("wrn16-1_students1of1", members, str(tmp_path / "pack"))

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(runs_module, "fit", out_of_memory)
    monkeypatch.setattr(runs_module, "device_memory", lambda device: 2**30)  # as if on a 1 GiB card
    monkeypatch.setattr(runs_module, "free_device_memory", lambda device: (2**30, 2**30))
    with pytest.raises(PackMemoryError) as caught:
        train_pack(pack, tiny / "windows.h5", training=TRAINING)
    message = str(caught.value)
    assert message.startswith("pack wrn16-1_students1of1 (3 runs) ran out of memory on cpu:")
    assert "estimated peak device memory" in message and "of the device's 1.0 GiB" in message
    suggested = int(message.split("set packing.teachers: ")[1].split(" ")[0])
    assert suggested >= 1 and isinstance(suggested, int)
    assert "\n" not in message


# --- CUDA only (the device check) ---------------------------------------------------------------------

@cuda
@pytest.mark.cuda
def test_cuda_memory_of_a_training_step_is_within_a_quarter_of_the_estimate():
    device = torch.device("cuda")
    for arch, modality, positions, members in (("wrn16-1", "sig", (1000,), 16), ("wrn16-3", "gaf", (64, 64), 3)):
        model = build_fused(arch, modality, 7, list(range(members)), axes=3).to(device).to_channels_last()
        x = torch.randn(64, 3 * members, *positions, device=device)
        if modality == "gaf":
            x = x.contiguous(memory_format=torch.channels_last)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        model(x).float().sum().backward()
        torch.cuda.synchronize()
        measured = torch.cuda.max_memory_allocated() - base
        params = count_parameters(model) // members
        estimate = pack_memory(arch, 3, positions, members, 64, params)
        assert 0.75 <= measured / (estimate.training + estimate.parameters * 2 / 3) <= 1.25, (arch, measured, estimate)


def test_memory_estimate_of_a_pack_with_live_teachers_counts_what_they_keep():
    """An SPKD pack (three live teachers: two 2-D, one 1-D): what the step keeps — the student's saved
    tensors (its feature-loss graph included), each teacher's weights and inputs, and the stage outputs and
    embeddings the teachers hand the losses — is within 25 % of the estimate's same parts."""
    from gafkd.distillation import LossSpec
    from gafkd.distillation.pack import PackLoss
    from gafkd.distillation.signals import StudentOutputs
    from gafkd.models.memory import BACKWARD_BUFFERS, FLOAT, live_teacher_memory
    from gafkd.training.data import RunData
    from gafkd.training.targets import LiveTeachers

    members, batch, n, classes = 4, 8, 64, 7
    data = lambda x: RunData(x, torch.arange(n) % classes, torch.arange(n), torch.arange(0),  # noqa: E731
                             torch.zeros(3), torch.ones(3), classes, "x")
    signals, images = data(torch.randn(n, 3, 250)), data(torch.randn(n, 3, 16, 16))
    teachers = [(build_fused("wrn16-1", "gaf", classes, [0], axes=3).eval(), images),
                (build_fused("wrn16-3", "pi", classes, [1], axes=3).eval(), images),
                (build_fused("wrn16-1", "sig", classes, [2], axes=3).eval(), signals)]
    live = LiveTeachers(teachers, [[0, 1, 2]] * members, frozenset({"stages"}))
    student = build_fused("wrn16-1", "sig", classes, list(range(members)), axes=3).train()
    loss = PackLoss([LossSpec((0.2, 0.3, 0.5), 0.7, 4.0, extras=(("sp", 700.0),))] * members)
    idx = torch.arange(members * batch).view(members, batch)  # every member its own rows: the widest case

    kept = {}
    hooks = [model.register_forward_hook(lambda module, args, out: kept.update(
        {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in (*out[1], out[2])}))
        for model, _ in teachers]
    step = live(idx)
    for hook in hooks:
        hook.remove()
    handed = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
              for t in [*(s for entry in step.stages for s in entry), *(e for e in step.embeddings if e is not None)]}
    parameters = {p.untyped_storage().data_ptr() for p in student.parameters()}
    saved = {}

    def pack(tensor):
        if tensor.untyped_storage().data_ptr() not in parameters:
            saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss(StudentOutputs.of(student(signals.pack_batch(idx), features=True), members), signals.labels[idx], step)
    teacher_bytes = sum(p.nbytes for model, _ in teachers for p in model.parameters())
    measured = sum(saved.values()) + teacher_bytes + images.inputs.nbytes + signals.inputs.nbytes + \
        sum(kept.values()) + sum(handed.values())

    memory = [live_teacher_memory(arch, 3, tuple(d.inputs.shape[2:]), classes, d.inputs.dim() - 2,
                                  d.inputs.nbytes if first else 0, True)
              for arch, d, first in (("wrn16-1", images, True), ("wrn16-3", images, False),
                                     ("wrn16-1", signals, True))]
    params = count_parameters(student) // members
    estimate = pack_memory("wrn16-1", 3, (250,), members, batch, params, 0, memory)
    without = pack_memory("wrn16-1", 3, (250,), members, batch, params)
    largest = activations("wrn16-1", 3, (250,)).largest
    counted = (estimate.data + estimate.training - batch * members * sum(t.forward for t in memory)
               - batch * members * BACKWARD_BUFFERS * largest * FLOAT)
    assert 0.75 <= measured / counted <= 1.25, (measured, counted)
    assert estimate.peak > without.peak + teacher_bytes  # the teachers are counted at all


def test_precision_per_stage_reaches_each_stages_runs_and_their_identity(tiny, tmp_path):  # noqa: F811
    """``precision: {teachers: tf32, students: fp32}``: a teacher trains (and gives its logits) in tf32, a
    student in fp32; each run's settings, and so its digest, carry its own stage's precision."""
    from gafkd.names import Experiment
    from gafkd.training.spec import RunSpec
    from helpers import tiny_teacher

    per_stage = {**TRAINING, "epochs": 1, "precision": {"teachers": "tf32", "students": "fp32"}}
    outputs = tiny_teacher(tiny, tmp_path / "t", "sig", training=per_stage)
    metrics = json.loads(open(outputs["metrics"]).read())
    assert metrics["numerics"]["precision"] == "tf32" and metrics["numerics"]["computed_in"] == "fp32"  # a CPU
    assert metrics["settings"]["training"]["precision"] == "tf32"
    student = RunSpec("tiny", "sig", "wrn16-1", 0, {}, Experiment.parse("kd1_gaf-wrn16-1_lam0.7"))
    assert student.settings("digest", TrainingSettings.of(per_stage))["training"]["precision"] == "fp32"
    same = {**per_stage, "precision": "tf32"}  # tf32 for every stage: the teacher is the same run
    assert RunSpec("tiny", "sig", "wrn16-1", 0, {}).settings(metrics["settings"]["windows_digest"],
                                                   TrainingSettings.of(same)) == \
        metrics["settings"]


# --- several jobs on one card -------------------------------------------------------------------------

def test_packs_that_cannot_share_a_card_are_refused_before_any_job(tmp_path, monkeypatch):
    from gafkd.plan.packing import check_gpu_sharing
    from gafkd.execution.resources import gpu_memory
    from gafkd.models.memory import CUDA_CONTEXT, job_memory_share

    monkeypatch.setenv("PATH", f"{_fake_nvidia_smi(tmp_path / 'bin', [10240, 12288])}{os.pathsep}/usr/bin:/bin")
    cards = gpu_memory()
    assert cards == [10 * 2**30, 12 * 2**30]
    config = load_config(["config.yaml"])  # training.device: cuda
    packs = [(d, p) for d in config["datasets"] for p in (*teacher_packs(config, "results", d),
                                                             *student_packs(config, "results", d))]
    check_gpu_sharing(config, packs, cards)  # one job per 10 GiB card: every planned pack fits
    config["training"]["gpu_jobs_per_device"] = 4  # 2.5 GiB each, less its context
    assert job_memory_share(cards[0], 4) == 2.5 * 2**30 - CUDA_CONTEXT
    with pytest.raises(ConfigError, match=r"gpu_jobs_per_device: 4 jobs sharing a 10\.0 GiB card leave each 1\.90 "
                                          r"GiB .* pack\(s\) are planned above it: gene14_w500/"):
        check_gpu_sharing(config, packs, cards)
    check_gpu_sharing(config, packs, [])  # a login node: no card to check against
    check_gpu_sharing({**config, "training": {**config["training"], "device": "cpu"}}, packs, cards)


def test_a_job_logs_the_memory_free_at_start_and_its_share(monkeypatch, caplog):
    from gafkd.models.memory import PackMemory
    from gafkd.training import runs
    from gafkd.training.spec import Pack, RunSpec

    monkeypatch.setattr(runs, "device_memory", lambda device: 10 * 2**30)
    monkeypatch.setattr(runs, "free_device_memory", lambda device: (3 * 2**30, 10 * 2**30))  # another process's 7
    pack = Pack("p", (RunSpec("d", "sig", "wrn16-1", 0, {"metrics": "m/metrics.json"}),), "folder")
    memory = PackMemory(parameters=2**30, data=2**30, training=2 * 2**30, evaluation=2**30, eval_rows=64)  # 4 GiB
    with caplog.at_level("INFO"):
        runs._check_memory(pack, memory, torch.device("cuda"), jobs_per_device=2)
    assert "3.00 GiB free on the device at start; this job's share 4.40 GiB (2 job(s) per device)" in caplog.text
    assert "exceeds the memory free now" in caplog.text


def test_fp32_teachers_on_a_gpu_are_told_what_it_costs():
    from gafkd.plan.packing import fp32_teacher_note

    config = load_config(["config.yaml"])  # CUDA, fp32, WRN28-3 among the image teachers
    note = fp32_teacher_note(config)
    assert "wrn28-3" in note and "wrn16-1" not in note and "not measured" in note and "teachers: tf32" in note
    config["training"]["precision"] = {"teachers": "tf32", "students": "fp32"}
    assert fp32_teacher_note(config) is None
    assert fp32_teacher_note(load_config(["config.yaml", "demo.yaml"])) is None  # the demo trains on the CPU


def test_the_gpu_demo_shares_one_card_within_the_memory_check():
    from gafkd.plan.packing import check_gpu_sharing

    config = load_config(["config.yaml", "demo.yaml", "demo-gpu.yaml"])
    assert config["training"]["device"] == "cuda" and config["training"]["gpu_jobs_per_device"] == 4
    packs = [(d, p) for d in config["datasets"] for p in (*teacher_packs(config, "results", d),
                                                             *student_packs(config, "results", d))]
    check_gpu_sharing(config, packs, [10 * 2**30])  # an RTX 3080's 10 GiB, four jobs: every pack fits its share


@pytest.mark.parametrize("modality, shape", [("sig", (4, 6, 120)), ("gaf", (4, 6, 16, 16))])
def test_compile_captures_a_fused_model_whole_and_changes_nothing(modality, shape, monkeypatch):
    """``training.compile: true``: torch.compile captures the fused model in one graph, forward and backward
    (fullgraph: a graph break fails), with the state dict's keys unchanged and the same numbers. The backend is
    AOTAutograd without Inductor's code generation (which needs minutes of C++ compiling on a CPU)."""
    from gafkd.training.device import prepare_model

    compile_module = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile",
                        lambda self, **kwargs: compile_module(self, backend="aot_eager", fullgraph=True))
    torch.manual_seed(0)
    eager, compiled = (build_fused("wrn16-1", modality, 5, [0, 1], axes=3) for _ in range(2))
    compiled.load_state_dict(eager.state_dict())
    eager = prepare_model(eager, TrainingSettings.of({"channels_last": True, "compile": False}))
    try:
        compiled = prepare_model(compiled, TrainingSettings.of({"channels_last": True, "compile": True}))
        x = torch.randn(*shape)
        out = compiled(x)
    except RuntimeError as exc:  # pragma: no cover — a torch without dynamo on this platform
        pytest.skip(f"torch.compile is not available here: {exc}")
    reference = eager(x)
    # AOTAutograd may decompose ops (batch norm) into other float32 arithmetic: equal to float32 rounding
    close = lambda a, b: torch.allclose(a, b, rtol=1e-5, atol=1e-6)  # noqa: E731
    assert close(out, reference) and list(compiled.state_dict()) == list(eager.state_dict())
    out.sum().backward()
    reference.sum().backward()
    assert all(close(p.grad, q.grad) for p, q in zip(eager.parameters(), compiled.parameters()))
