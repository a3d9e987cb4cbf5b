"""The benchmark's side by side compares like with like: the naive pandas aggregation
and the in-database one give the same per-account figures."""

import importlib.util
from pathlib import Path

import pandas as pd

from tests.conftest import DEMO_AS_OF

spec = importlib.util.spec_from_file_location(
    "bench_steps", Path(__file__).resolve().parents[2] / "bench" / "steps.py")
steps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(steps)


def test_naive_and_in_database_features_agree(demo_store):
    url, _ = demo_store
    naive = steps.naive_features(url, DEMO_AS_OF)
    indb = steps.indb_features(url, DEMO_AS_OF)
    assert naive["accounts"] == indb["accounts"] > 100
    assert naive["rows_loaded"] > 100_000  # the naive way loads the whole usage table
    a = naive["frame"].sort_index()
    b = indb["frame"].sort_index()[a.columns]
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_names=False)
