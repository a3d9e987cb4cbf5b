"""A repeated `greendoor score` with nothing changed reuses the stored backtest and
writes the same snapshots (issue 23); new settings or changed data run it again;
threads are capped."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor import config
from greendoor import settings as S
from greendoor.scoring.run import latest_evaluation, score
from greendoor.store import schema
from greendoor.store.engine import make_engine

_spec = importlib.util.spec_from_file_location(
    "bench_commands", Path(__file__).resolve().parents[2] / "bench" / "commands.py")
commands = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(commands)


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


def test_one_new_day_scores_as_a_full_rescore_without_the_backtest(scored_demo_store, tmp_path):
    """Issue 23: after one day of new data, `greendoor score` computes the features of
    the new date (and its trend base) only, reuses the stored backtest (its training
    dates and the data known through their outcomes are unchanged), and writes the
    same snapshots as a full rescore that recomputes every training date and backtests
    again on another copy of the same store."""
    shutil.copy(sa.make_url(scored_demo_store[0]).database, tmp_path / "daily.duckdb")
    daily = make_engine(f"duckdb:///{tmp_path / 'daily.duckdb'}")
    yesterday = score(daily, backfill_weeks=0)  # yesterday's run: stores a fingerprint
    assert yesterday.evaluation is not None
    daily.dispose()
    shutil.copy(tmp_path / "daily.duckdb", tmp_path / "full.duckdb")
    for name in ("daily", "full"):  # the benchmark's new day: a week-old day's events again
        assert min(commands.add_day(tmp_path / f"{name}.duckdb", yesterday.as_of).values()) > 0
    engines = [make_engine(f"duckdb:///{tmp_path / name}.duckdb") for name in ("daily", "full")]
    daily, full = engines
    try:
        today = yesterday.as_of + dt.timedelta(days=1)
        train = set(map(dt.date.fromisoformat, yesterday.evaluation["dates"]))
        assert len(train) >= 4
        new = score(daily, as_of=today, backfill_weeks=0)
        assert new.evaluation is None and new.evaluation_reused is not None
        assert "backtest" not in new.seconds and "training" in new.seconds
        # the new date and its trend base (not scored before): no training date
        assert today in new.feature_dates and len(new.feature_dates) <= 2
        assert not train & set(new.feature_dates)
        rescored = score(full, as_of=today, backfill_weeks=0, evaluate_models=True)
        assert rescored.evaluation is not None and train <= set(rescored.feature_dates)
        assert rescored.evaluation["dates"] == yesterday.evaluation["dates"]  # the same grid
        pd.testing.assert_frame_equal(snapshots(daily, today), snapshots(full, today))
        assert len(snapshots(daily, today)) == new.accounts > 0
        # a change to what a training date's outcome window saw runs the backtest again
        last = max(train)
        with daily.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM usage WHERE date = DATE '{last}'")
        assert score(daily, as_of=today, backfill_weeks=0).evaluation is not None
    finally:
        for eng in engines:
            eng.dispose()


def _scored_at(eng) -> set:
    ss = schema.score_snapshots
    with eng.connect() as conn:
        return set(conn.execute(sa.select(ss.c.scored_at).distinct()).scalars())


def test_a_repeated_score_command_with_nothing_changed_stops_after_the_check(
        scored_store_copy, capsys):
    """Issue 23: `greendoor score` compares a digest of its inputs with the last run's
    and, when nothing changed, says so and writes nothing (no model is even imported);
    an action logged in the app, new settings or --force score again."""
    from greendoor.actions import create_task
    from greendoor.cli import main

    url, eng = scored_store_copy
    written = _scored_at(eng)  # the fixture's run recorded its digest
    assert main(["--db-url", url, "score"]) == 0
    out = capsys.readouterr().out
    assert "nothing changed since the run of" in out and "--force" in out
    assert _scored_at(eng) == written  # no snapshot rewritten
    # an action logged in the app is an input (the gap alerts, automation): runs again
    with eng.connect() as conn:
        acc = conn.execute(sa.select(sa.func.min(schema.accounts.c.account_id))).scalar()
    create_task(eng, acc, "Call the sponsor", "Dana", dt.date(2026, 7, 10))
    assert main(["--db-url", url, "score"]) == 0
    assert "nothing changed" not in capsys.readouterr().out
    assert main(["--db-url", url, "score"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["--db-url", url, "score", "--force"]) == 0
    assert "nothing changed" not in capsys.readouterr().out
    with eng.connect() as conn:
        _, current = S.current(conn)
    current["health"]["trend_window_days"] += 7
    S.save(eng, current, "system", note="test")
    assert main(["--db-url", url, "score"]) == 0
    assert "nothing changed" not in capsys.readouterr().out


def test_data_landing_while_a_run_computes_is_scored_by_the_next_run(
        scored_store_copy, capsys, monkeypatch):
    """The digest a run records for the data it cannot write is the one taken as it
    started (the usage table is digested once per run, not twice): an edit that lands
    while the run computes makes the next `greendoor score` run again instead of saying
    nothing changed; the run after that stops at the check."""
    from greendoor.cli import main
    from greendoor.scoring import fresh

    url, eng = scored_store_copy
    subs = schema.subscriptions
    real = fresh.input_prints

    def then_an_import_lands(conn):
        prints = real(conn)
        with eng.begin() as other:  # another process's import, after the digest
            sid = other.execute(sa.select(sa.func.min(subs.c.subscription_id))).scalar()
            other.execute(subs.update().where(subs.c.subscription_id == sid)
                          .values(arr=subs.c.arr + 1))
        return prints

    monkeypatch.setattr(fresh, "input_prints", then_an_import_lands)
    assert main(["--db-url", url, "score", "--force"]) == 0
    monkeypatch.setattr(fresh, "input_prints", real)
    capsys.readouterr()
    assert main(["--db-url", url, "score"]) == 0
    assert "nothing changed" not in capsys.readouterr().out  # the late edit is scored
    assert main(["--db-url", url, "score"]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_a_score_command_after_a_change_digests_the_usage_table_once(
        scored_store_copy, capsys, monkeypatch):
    """The check's digest of the data is handed to the run (`fresh.check`, `score(...,
    before=)`): after a change, `greendoor score` fingerprints the usage table once, not
    once for the check and again as the run starts (about 1 s at 10,000 accounts); the
    run it records still lets the next command stop at the check."""
    from greendoor.cli import main
    from greendoor.store import backup

    url, eng = scored_store_copy
    subs = schema.subscriptions
    with eng.begin() as conn:  # an import changed one subscription
        sid = conn.execute(sa.select(sa.func.min(subs.c.subscription_id))).scalar()
        conn.execute(subs.update().where(subs.c.subscription_id == sid).values(arr=subs.c.arr + 1))
    real, digested = backup.table_prints, []

    def counting(conn, tables, through=None):
        if through is None:  # (the backtest's fingerprint digests what was known by a date)
            digested.extend(t.name for t in tables)
        return real(conn, tables, through)

    monkeypatch.setattr(backup, "table_prints", counting)
    assert main(["--db-url", url, "score"]) == 0
    assert "nothing changed" not in capsys.readouterr().out
    assert digested.count(schema.usage.name) == 1  # was 2: check, then run start
    digested.clear()
    assert main(["--db-url", url, "score"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert digested.count(schema.usage.name) == 1


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
