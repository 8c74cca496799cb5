"""Every rule's conda environment holds what its script imports (through the gafkd modules it loads)."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
# import name → conda-forge package name, where they differ
CONDA_NAMES = {"torch": "pytorch", "yaml": "pyyaml", "scikit_posthocs": "scikit-posthocs"}
STANDARD = set(sys.stdlib_module_names)
PROVIDED = {"gafkd", "snakemake"}  # the workflow itself and the Snakemake that runs the script


# conda: directives that name a variable of common.smk: every env file it can be
ENV_VARIABLES = {"TRAIN_ENV": ("../../envs/train-cpu.yaml", "../../envs/train-cuda.yaml")}


def _rules():
    """(rule file, env file, script file) for every rule with both a conda: and a script: directive."""
    found = []
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n\s*rule\b", smk.read_text())[1:]:
            env = re.search(r"conda:\s*\n\s*(?:\"([^\"]+)\"|(\w+))", block)
            script = re.search(r"script:\s*\n\s*\"([^\"]+)\"", block)
            if env and script:
                for path in (env[1],) if env[1] else ENV_VARIABLES[env[2]]:
                    found.append((smk.name, (smk.parent / path).resolve(), (smk.parent / script[1]).resolve()))
    return found


def _module_file(name: str) -> Path | None:
    path = SRC / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of everything ``path`` imports (module level and inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules a script needs, following gafkd's own modules transitively."""
    seen, todo, needed = set(), [(script, "")], set()
    while todo:
        path, package = todo.pop()
        for name in _imports(path, package):
            top = name.split(".")[0]
            if top == "gafkd":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # the module and every package above it
                    module = ".".join(parts[:i])
                    file = _module_file(module)
                    if file is not None and module not in seen:
                        seen.add(module)
                        todo.append((file, module if file.name == "__init__.py" else module.rsplit(".", 1)[0]))
            elif top not in STANDARD and top not in PROVIDED and top != "__future__":
                needed.add(top)
    return needed


def _split(env: Path) -> tuple[list[str], list[str]]:
    """(conda packages, pip packages): a package not on conda-forge comes from PyPI in a ``pip:`` entry."""
    conda, pip = [], []
    for dep in yaml.safe_load(env.read_text())["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
        elif dep != "pip":
            conda.append(dep)
    return conda, pip


def _env_packages(env: Path) -> set[str]:
    conda, pip = _split(env)
    return {re.split(r"[<>=!\s]", d, maxsplit=1)[0] for d in conda + pip}


def test_environments_are_pinned():
    for env in sorted((ROOT / "envs").glob("*.yaml")):
        conda, pip = _split(env)
        for dep in conda:
            assert re.fullmatch(r"[\w-]+ =\d+(\.\d+)*(=(cpu|cuda)\*)?", dep), f"{env.name}: {dep!r} is not pinned (name =X.Y)"
        for dep in pip:
            assert re.fullmatch(r"[\w-]+==\d+(\.\d+)*(\.\*)?", dep), f"{env.name}: {dep!r} is not pinned (name==X.Y.*)"


@pytest.mark.parametrize("rule_file, env, script", _rules(), ids=lambda v: getattr(v, "name", v))
def test_rule_environment_has_what_its_script_imports(rule_file, env, script):
    missing = {CONDA_NAMES.get(m, m) for m in third_party_imports(script)} - _env_packages(env)
    assert not missing, f"{rule_file}: {script.name} imports {sorted(missing)}, not in {env.name}"


def test_training_envs_ask_for_the_build_of_their_device():
    for device in ("cpu", "cuda"):
        conda, _ = _split(ROOT / "envs" / f"train-{device}.yaml")
        assert f"pytorch =2.13={device}*" in conda
    # a bound on the CUDA runtime, so that a solve cannot outrun an older cluster driver
    assert any(dep.startswith("cuda-version =12") for dep in _split(ROOT / "envs" / "train-cuda.yaml")[0])
    assert 'TRAIN_ENV = f"../../envs/train-{STUDY.device}.yaml"' in (
        ROOT / "workflow" / "rules" / "common.smk").read_text()


def test_every_rule_script_is_checked():
    scripts = {script.name for _, _, script in _rules()}
    assert scripts == {p.name for p in (ROOT / "workflow" / "scripts").glob("*.py")}
