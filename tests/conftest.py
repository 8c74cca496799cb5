import numpy as np
import pytest

from gafkd.classes import GENE14
from helpers import TINY, make_tiny, snakemake


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def gene14():
    return GENE14


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The tiny dataset (helpers.make_tiny), built once for the session: tests read it, and write beside it."""
    return make_tiny(tmp_path_factory.mktemp("tiny"))


def finished_study(tmp_path_factory, name: str, config: dict):
    """A working directory where the workflow ran ``config`` to the end (a shared fixture's study)."""
    workdir = tmp_path_factory.mktemp(name)
    run = snakemake(workdir, "--cores", "2", config=config)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny workflow (helpers.TINY) run once for the session: the tests that read its results share it,
    and the tests that change files work on a copy (:func:`copy_study`)."""
    return finished_study(tmp_path_factory, "tiny_run", TINY)


def copy_study(source, target):
    """A finished study's working directory — results, Snakemake's records — copied with its files' times, so
    Snakemake finds the copy exactly as up to date as the original."""
    import shutil

    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return target
