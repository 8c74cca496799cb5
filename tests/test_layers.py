"""Imports run one way: each package or module of gafkd imports only those below it (no cycles)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Lowest first: data → representations (gaf) → models → training → execution → reporting, with the
# foundations below and the commands on top. A unit may import units of lower layers only.
LAYERS = [
    {"gafkd"},  # the package root: __version__
    {"errors"},
    {"provenance", "schema", "faults"},
    {"io"},
    {"classes"},
    {"data"},
    {"folds"},  # a fold-split dataset as a variant per fold: asks data.formats for the subjects
    {"gaf"},
    {"models"},
    {"distillation"},
    {"names"},
    {"grid"},
    {"training"},
    {"config"},
    {"execution"},
    {"reporting"},
    {"bench"},
    {"cli"},
]
LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_between_units() -> set[tuple[str, str, str]]:
    """(importing unit, imported unit, file) for every import of gafkd code from another unit."""
    found = set()
    for path in (SRC / "gafkd").rglob("*.py"):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                if target.split(".")[0] == "gafkd":
                    unit = "gafkd" if target in ("gafkd", "gafkd.__version__") else _unit(target)
                    if unit != _unit(module):
                        found.add((_unit(module), unit, str(path.relative_to(SRC))))
    return found


def test_every_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in (SRC / "gafkd").iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert units <= set(LEVEL), f"add to LAYERS: {sorted(units - set(LEVEL))}"


def test_imports_run_one_way():
    upward = sorted(f"{file}: {a} imports {b}" for a, b, file in imports_between_units() if LEVEL[b] >= LEVEL[a])
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The test can fail: a module of models importing training is reported."""
    fake = tmp_path / "gafkd" / "models"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from ..training import loop\n")
    monkeypatch.setattr("test_layers.SRC", tmp_path)
    assert ("models", "training", "gafkd/models/bad.py") in imports_between_units()
