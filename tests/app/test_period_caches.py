"""Loaders keyed by what their result depends on rather than by the as-of date: a new
as-of date that shows the same score snapshot or falls in the same month computes
nothing again (app/data.py: clustering, month_revenue_cohorts, rule_outcomes)."""

import datetime as dt

import pandas as pd
import pytest
import streamlit as st

from app import data
from greendoor import config
from greendoor.analytics import alerts as IB
from greendoor.analytics import segments as SG
from greendoor.periods import Filters
from tests.conftest import DEMO_AS_OF


def data_conn():
    return data.engine().connect()


def refuse(*args, **kwargs):
    raise AssertionError("computed again")


@pytest.fixture
def token(scored_demo_store, monkeypatch):
    url, _ = scored_demo_store
    monkeypatch.setenv(config.DB_URL_ENV, url)
    st.cache_data.clear()
    yield data.data_token()
    st.cache_data.clear()


def test_the_clustering_is_computed_once_per_score_snapshot(token, monkeypatch):
    # the store is scored weekly back from DEMO_AS_OF: both dates show its snapshot of
    # two weeks before
    week = DEMO_AS_OF - dt.timedelta(days=14)
    first = data.clusters(token, Filters(as_of=week + dt.timedelta(days=2)))
    assert pd.Timestamp(first["accounts"]["as_of"].iloc[0]).date() == week
    assert first["clustering"].model is not None
    monkeypatch.setattr(SG, "cluster", refuse)
    again = data.clusters(token, Filters(as_of=week + dt.timedelta(days=5)))
    pd.testing.assert_series_equal(again["clustering"].labels, first["clustering"].labels)
    # the persona benchmarks still follow the as-of date (their year looks back from it)
    assert "persona_benchmarks" in again
    # another snapshot, or another filter of the same one, clusters again
    with pytest.raises(AssertionError, match="computed again"):
        data.clusters(token, Filters(as_of=week + dt.timedelta(days=8)))
    with pytest.raises(AssertionError, match="computed again"):
        data.clusters(token, Filters(as_of=week + dt.timedelta(days=2), segment="smb"))


def test_the_revenue_cohorts_are_computed_once_per_month(token, monkeypatch):
    may = data.revenue_cohorts(token, Filters(as_of=dt.date(2026, 5, 12)))
    assert not may.empty
    monkeypatch.setattr(SG, "revenue_cohorts", refuse)
    pd.testing.assert_frame_equal(data.revenue_cohorts(token, Filters(as_of=dt.date(2026, 5, 28))),
                                  may)
    with pytest.raises(AssertionError, match="computed again"):
        data.revenue_cohorts(token, Filters(as_of=dt.date(2026, 6, 2)))


def test_a_rule_record_computes_only_the_dates_no_earlier_one_measured(token, monkeypatch):
    # weekly snapshots from DEMO_AS_OF - 28 days; a record measures the snapshots 90 days
    # (the churn horizon) before its as-of date, every 4th from the first: one date
    # (DEMO_AS_OF - 28) at the first as-of date, two (and DEMO_AS_OF) at the second
    first_at, then_at = DEMO_AS_OF + dt.timedelta(days=70), DEMO_AS_OF + dt.timedelta(days=90)
    with data_conn() as conn:
        before = IB.measured_dates(conn, first_at)
        after = IB.measured_dates(conn, then_at)
    assert len(before) == 1 and len(after) == 2
    assert not data.rule_quality(token, Filters(as_of=first_at)).empty
    computed = []
    real = IB.rule_outcomes
    monkeypatch.setattr(IB, "rule_outcomes", lambda conn, d, *a, **k: (
        computed.append(d), real(conn, d, *a, **k))[1])
    later = data.rule_quality(token, Filters(as_of=then_at))
    assert computed == [DEMO_AS_OF]
    # the same frame as computing every date afresh
    with data_conn() as conn:
        pd.testing.assert_frame_equal(later, IB.rule_quality(conn, Filters(as_of=then_at)))
