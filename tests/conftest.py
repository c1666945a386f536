"""Shared test configuration.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=<name>``):

* ``ci`` (default): no deadline (the first call of a Numba kernel compiles
  or loads it from the cache), a moderate number of examples so that the
  whole suite stays well under ten minutes on two cores, derandomised so
  that CI is repeatable (run ``thorough`` to explore new examples).
* ``dev``: a quick smoke run.
* ``thorough``: many examples, for a nightly or a hunt for bugs.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

settings.register_profile("ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("dev", max_examples=15, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    """A fresh, seeded generator for each test (reproducible failures)."""
    return np.random.default_rng(20261122)
