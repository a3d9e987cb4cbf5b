"""The app's loaders compute with the native thread pools capped at
``greendoor.config.threads`` (as ``greendoor score`` does): two OpenMP threads made
k-means on the Segmentation page 8-15x slower while anything else used a core."""

import datetime as dt
import os

import pytest
import sklearn.cluster  # noqa: F401 - loads scikit-learn's OpenMP runtime
from threadpoolctl import threadpool_info

from app import data
from greendoor import config

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: nothing to cap")


def _openmp_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]


@pytest.fixture
def probe():
    """A loader reporting the OpenMP threads it computes with (removed afterwards)."""
    @data.loader()
    def _threads_probe(token: str, n: int) -> list[int]:
        return _openmp_threads()

    yield _threads_probe
    data.LOADERS.pop("_threads_probe")
    _threads_probe.clear()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_loader_computes_with_the_configured_threads(monkeypatch, probe, threads):
    assert _openmp_threads() and max(_openmp_threads()) >= 2  # uncapped outside a loader
    monkeypatch.setenv(config.THREADS_ENV, threads)
    assert set(probe(f"token-{threads}", 1)) == {int(threads)}
    assert max(_openmp_threads()) >= 2  # the cap ends with the loader


def test_the_warm_up_computes_capped_too(monkeypatch):
    seen = []
    monkeypatch.setattr(data, "LOADERS", {"probe": lambda token, as_of: seen.append(
        _openmp_threads())})
    monkeypatch.setenv(config.THREADS_ENV, "1")
    data.warm("token", dt.date(2026, 11, 1))
    assert seen and set(seen[0]) == {1}
