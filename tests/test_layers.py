"""Imports run one way: each package or module of gafkd imports only those below it (no cycles)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Lowest first: data → image representations → models → training → execution → reporting, with the
# foundations below and the commands on top. A unit may import units of lower layers only.
LAYERS = [
    {"gafkd"},  # the package root: __version__
    {"errors"},
    {"provenance", "schema", "faults"},
    {"io"},
    {"classes"},
    {"data"},
    {"folds"},  # a fold-split dataset as a variant per fold: asks data.formats for the subjects
    {"images"},
    {"models"},
    {"distillation"},
    {"kinds"},  # the experiment kinds registry
    {"names"},
    {"grid"},
    {"training"},
    {"config"},
    {"plan"},  # the study a config describes: its datasets, packs and paths
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


def module_imports() -> dict[str, set[str]]:
    """Each gafkd module → the gafkd modules it imports (at the top or inside a function; a name imported from a
    package that is one of its modules counts as that module)."""
    modules = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (SRC / "gafkd").rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = (".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) if node.level
                        else "")
                target = ".".join(part for part in (base, node.module or "") if part)
                names = [f"{target}.{alias.name}" for alias in node.names]
                found = [n for n in names if n in modules] or [target]
            elif isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            else:
                continue
            graph[module] |= {t for t in found if t in modules and t != module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return groups


def test_no_module_imports_itself_round_a_circle():
    assert import_cycles(module_imports()) == []


def test_the_circle_check_sees_a_circle(tmp_path, monkeypatch):
    fake = tmp_path / "gafkd" / "bench"
    fake.mkdir(parents=True)
    (tmp_path / "gafkd" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "a.py").write_text("def f():\n    from .b import g\n")
    (fake / "b.py").write_text("from . import a\n")
    monkeypatch.setattr("test_layers.SRC", tmp_path)
    assert import_cycles(module_imports()) == [["gafkd.bench.a", "gafkd.bench.b"]]
