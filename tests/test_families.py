"""Model families as entries: every family builds 1-D and 2-D, names and labels come from the registry, feature
losses get three stage outputs, and each trains at the protocol's learning rate."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from gafkd.errors import ConfigError
from gafkd.models import build_model, count_parameters
from gafkd.models.families import FAMILIES, arch_label, family_of
from gafkd.models.fused import build_fused

ARCHS = ["wrn16-1", "wrn40-1", "resnet8", "resnet20", "resnet44", "vgg8", "mobilenetv2-0.5", "transformer3-32"]
INPUTS = {1: ("sig", (2, 4, 100)), 2: ("gaf", (2, 4, 17, 17))}


@pytest.mark.parametrize("arch, modality, shape", [(a, *INPUTS[d]) for a in ARCHS for d in family_of(a).dims])
def test_every_family_gives_logits_three_stage_outputs_an_embedding_and_the_map_it_pools(arch, modality, shape):
    model = build_fused(arch, modality, 6, [0, 1], axes=4)
    x = torch.randn(shape[0], 2 * shape[1], *shape[2:])
    logits, stages, embedding, final = model(x, features=True)
    assert logits.shape == (2, 2, 6) and len(stages) == 3
    assert all(s.shape[0] == 2 and s.shape[1] % 2 == 0 and s.dim() == x.dim() for s in stages)
    assert embedding.shape == (2, 2 * model.fc.in_features)
    # the final map: what the embedding is the mean of, in the input's dimensions whatever the layout
    assert final.dim() == x.dim() and final.shape[:2] == embedding.shape
    torch.testing.assert_close(final.mean(dim=tuple(range(2, final.dim()))), embedding)
    assert torch.equal(model(x), logits)  # features change nothing


def test_names_labels_and_bad_names():
    assert [arch_label(a) for a in ("wrn16-3", "resnet20", "vgg8", "mobilenetv2-0.5", "transformer3-64")] == \
        ["WRN16-3", "ResNet20", "VGG8", "MobileNetV2-0.5", "Transformer3-64"]
    with pytest.raises(ConfigError, match="multiple of 16"):
        family_of("transformer3-40")
    with pytest.raises(ConfigError, match="width multiplier"):
        family_of("mobilenetv2-0")
    with pytest.raises(ConfigError, match="depth = 6n\\+2"):
        family_of("resnet10")
    with pytest.raises(ConfigError, match="VGG depth is one of 8, 11, 13"):
        family_of("vgg9")
    # RepDistiller's published sizes of its CIFAR-100 models (2-D, 100 classes), in millions
    published = {"resnet8": 0.08, "resnet20": 0.28, "resnet44": 0.67, "vgg8": 3.96, "mobilenetv2-0.5": 0.81}
    assert {a: round(count_parameters(build_model(a, "gaf", 100, axes=3)) / 1e6, 2) for a in published} == published


def test_no_other_module_names_a_family():
    """A family is its module and its registry entry: the rest of the code asks the registry."""
    src = Path(__file__).resolve().parents[1] / "src" / "gafkd"
    own = {src / "models" / "families.py", *(src / "models" / name for name in FAMILIES)}
    offenders = [f"{p.relative_to(src)}: {name}" for p in src.rglob("*.py") if not own & {p, *p.parents}
                 for name in FAMILIES if re.search(rf"[\"']{name}[\"']|{name}\.py|models\.{name}\b", p.read_text())]
    assert not offenders
    # nor names an architecture: the study's come from the schema's defaults, the rest from the config
    written = [f"{p.relative_to(src)}: {m.group(0)}" for p in src.rglob("*.py") if src / "models" not in p.parents
               for family in FAMILIES.values() for m in re.finditer(rf"[\"']({family.pattern})[\"']", p.read_text())]
    assert not written
    # a family's package holds its grammar, shape walk and parameter count (torch-free) and its network
    for family in FAMILIES.values():
        assert all(callable(getattr(family.spec(), f)) for f in ("args", "activations", "parameters"))
        assert callable(family.build())


@pytest.mark.parametrize("arch", ["resnet8", "vgg8", "mobilenetv2-0.5", "transformer2-32"])
def test_trains_at_the_protocols_learning_rate_without_nan(arch):
    """lr 0.05, momentum 0.9, 20 steps on standardised windows: finite, falling losses (the group's VGG8 needed its
    logits clamped; batch norm after every convolution keeps ours finite)."""
    torch.manual_seed(0)
    model = build_model(arch, "sig", 7, axes=3).to_channels_last()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x, y = torch.randn(64, 3, 500), torch.randint(0, 7, (64,))
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(map(math.isfinite, losses)) and losses[-1] < losses[0]  # finite, and it learns the batch


def test_the_compatibility_table_adds_each_student_architectures_runs():
    """Each student architecture of students.compatibility trains the student alone (unless it is a signal
    teacher's run) and one-teacher KD from every image teacher; the main student adds what it lacks."""
    import yaml

    from gafkd.config import check_config, with_defaults
    from gafkd.plan.packing import student_packs

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    config["datasets"] = {"d": {**config["datasets"]["gene14_w500"]}}
    config["teachers"] = {"archs": ["wrn16-1", "resnet8"], "seeds": [0]}
    config["students"] = {"seeds": [0], "kd1": {"teacher_archs": []}, "kd2": {"pairs": []},
                          "compatibility": {"archs": ["wrn16-1", "vgg8"], "lam": 0.5}}
    config = with_defaults(config)
    check_config(config)
    members = [m for p in student_packs(config, "results", "d") for m in p.members]
    by_arch = {}
    for m in members:
        by_arch.setdefault(m.arch, set()).add(m.experiment.spec)
    teachers = {"kd1_gaf-wrn16-1_lam0.5", "kd1_gaf-resnet8_lam0.5"}
    assert by_arch == {"wrn16-1": teachers, "vgg8": teachers | {"baseline"}}  # sig:wrn16-1 is a teacher run
    bad = {**config, "students": {**config["students"], "compatibility": {"archs": ["vgg9"], "lam": 0.5,
                                                                          "representation": "gaf"}}}
    with pytest.raises(ConfigError, match="students.compatibility.archs\\[0\\]: 'vgg9'"):
        check_config(bad)


def test_experiment_kinds_are_entries():
    """A kind is its entry in gafkd.kinds and its block of the schema: no other module names one (the schema's
    variant_kinds lists the kinds with teachers, and every kind but the student alone has its block)."""
    import ast

    from gafkd.kinds import ALONE_KIND, KINDS
    from gafkd.schema import load_schema

    src = Path(__file__).resolve().parents[1] / "src" / "gafkd"
    named = sorted(f"{p.relative_to(src)}: {node.value}" for p in src.rglob("*.py") if p.name != "kinds.py"
                   for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.Constant)
                   and node.value in KINDS)
    assert not named
    students = load_schema()["properties"]["students"]["properties"]
    assert students["variant_kinds"]["items"]["enum"] == [k for k in KINDS if k != ALONE_KIND]
    assert all(name in students for name in KINDS)


def test_no_module_branches_on_a_writer_name():
    """Each synthetic write_as value is a writer of its format's entry (gafkd.data.formats): no module compares a
    value with one (``write_as == "bin"``), and the schema's enum is the registry's."""
    import ast

    from gafkd.data.formats import WRITERS
    from gafkd.schema import load_schema

    src = Path(__file__).resolve().parents[1] / "src" / "gafkd"

    def names(node):
        nodes = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
        return {n.value for n in nodes if isinstance(n, ast.Constant)} & set(WRITERS)

    branching = sorted(f"{p.relative_to(src)}:{node.lineno}" for p in src.rglob("*.py")
                       for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.Compare)
                       and any(names(c) for c in (node.left, *node.comparators)))
    assert not branching
    def write_as(node):  # the schema's write_as, wherever it sits
        if isinstance(node, dict):
            if "write_as" in node.get("properties", {}):
                return node["properties"]["write_as"]["enum"]
            return next((found for v in node.values() if (found := write_as(v))), None)
        if isinstance(node, list):
            return next((found for v in node if (found := write_as(v))), None)
        return None

    assert set(write_as(load_schema())) == set(WRITERS)
