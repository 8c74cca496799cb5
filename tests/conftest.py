import numpy as np
import pytest

from gafkd.classes import GENE14


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def gene14():
    return GENE14
