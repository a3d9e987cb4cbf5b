"""A repeated `greendoor score` with nothing changed reuses the stored backtest and
writes the same snapshots (issue 23); new settings or changed data run it again;
threads are capped."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import config
from greendoor import settings as S
from greendoor.scoring.run import latest_evaluation, score
from greendoor.store import schema


def snapshots(engine, as_of) -> pd.DataFrame:
    ss = schema.score_snapshots
    with engine.connect() as conn:
        df = pd.read_sql(sa.select(ss).where(ss.c.as_of == as_of), conn)
    return df.drop(columns=["scored_at"]).sort_values("account_id", ignore_index=True)


def test_a_repeated_score_reuses_the_backtest_and_writes_the_same_snapshots(scored_store_copy):
    _, eng = scored_store_copy
    first = score(eng, backfill_weeks=0)  # the stored evaluation has no fingerprint: runs
    assert first.evaluation is not None and first.evaluation_reused is None
    assert "backtest" in first.seconds
    before = snapshots(eng, first.as_of)
    with eng.connect() as conn:
        stored = latest_evaluation(conn)
    again = score(eng, backfill_weeks=0)
    assert again.evaluation is None and again.evaluation_reused == stored["created_at"]
    assert "backtest" not in again.seconds and "reused the one of" in again.summary()
    pd.testing.assert_frame_equal(snapshots(eng, again.as_of), before)
    # new settings: the inputs changed, so the backtest runs again
    with eng.connect() as conn:
        _, current = S.current(conn)
    current["health"]["trend_window_days"] = current["health"]["trend_window_days"] + 7
    S.save(eng, current, "system", note="test")
    third = score(eng, backfill_weeks=0)
    assert third.evaluation is not None and third.evaluation_reused is None
    forced = score(eng, backfill_weeks=0, evaluate_models=True)  # --evaluate
    assert forced.evaluation is not None
    assert score(eng, backfill_weeks=0).evaluation is None  # the forced one is reused
    # a data change made outside an import (an edit in the app) runs it again
    subs = schema.subscriptions
    with eng.begin() as conn:
        sid = conn.execute(sa.select(sa.func.min(subs.c.subscription_id))).scalar()
        conn.execute(subs.update().where(subs.c.subscription_id == sid)
                     .values(arr=subs.c.arr * 3))
    assert score(eng, backfill_weeks=0).evaluation is not None


@pytest.mark.parametrize("raw, expected", [(None, 1), ("2", 2), (" 3 ", 3)])
def test_threads_default_to_one_and_read_the_environment(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv(config.THREADS_ENV, raising=False)
    else:
        monkeypatch.setenv(config.THREADS_ENV, raw)
    assert config.threads() == expected


@pytest.mark.parametrize("raw", ["0", "-1", "two", ""])
def test_threads_refuse_what_is_not_a_positive_whole_number(monkeypatch, raw):
    monkeypatch.setenv(config.THREADS_ENV, raw)
    with pytest.raises(ValueError, match=config.THREADS_ENV):
        config.threads()
