"""The features a scoring run stores beside its snapshots (greendoor.scoring.
feature_snapshots): the same frames a fresh computation gives, read only while the
snapshots are that run's, and what Segmentation and the threshold preview read instead
of recomputing them."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from greendoor.analytics import alerts as IB
from greendoor.analytics import segments as SG
from greendoor.periods import Filters
from greendoor.scoring import feature_snapshots as FS
from greendoor.scoring import features as FE
from greendoor.scoring.run import score
from greendoor.store import schema
from tests.conftest import DEMO_AS_OF


def _snapshots(conn, d: dt.date, scored_at: dt.datetime, ids=("a1", "a2")) -> None:
    ss = schema.score_snapshots
    conn.execute(ss.delete().where(ss.c.as_of == d))
    conn.execute(ss.insert(), [{"account_id": a, "as_of": d, "settings_version": 1,
                                "health_score": 50.0, "scored_at": scored_at} for a in ids])


def test_a_stored_frame_is_read_back_whole_while_its_run_holds_the_date(engine):
    d, t1, t2 = dt.date(2026, 5, 4), dt.datetime(2026, 5, 4, 6), dt.datetime(2026, 5, 5, 6)
    frame = pd.DataFrame({"arr": [1200.5, np.nan], "segment": ["smb", None],
                          "as_of": [d, d], "active_users_30d": [3.0, 0.0]},
                         index=pd.Index(["a1", "a2"], name="account_id"))
    with engine.begin() as conn:
        _snapshots(conn, d, t1)
        FS.write(conn, {d: frame}, t1)
    with engine.connect() as conn:
        pd.testing.assert_frame_equal(FS.read(conn, d), frame)
        # a week later, within the week: the same frame, with its date
        on, got = FS.latest(conn, d + dt.timedelta(days=6), within_days=7)
        assert on == d
        pd.testing.assert_frame_equal(got, frame)
        assert FS.latest(conn, d + dt.timedelta(days=7), within_days=7) is None  # 8th day
        assert FS.read(conn, d - dt.timedelta(days=1)) is None  # nothing stored before
    with engine.begin() as conn:  # a later run rewrote the date's snapshots, not its frame
        _snapshots(conn, d, t2)
    with engine.connect() as conn:
        assert FS.read(conn, d) is None
    with engine.begin() as conn:  # the run that wrote them stores its own frame
        FS.write(conn, {d: frame.iloc[:1]}, t2)
    with engine.connect() as conn:
        pd.testing.assert_frame_equal(FS.read(conn, d), frame.iloc[:1])
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.feature_snapshots))
        assert n.scalar() == 1  # replaced, not added


def test_the_run_stores_what_a_fresh_computation_gives_at_every_scored_date(scored_demo_store):
    _, eng = scored_demo_store
    with eng.connect() as conn:
        dates = [r[0] for r in conn.execute(sa.select(schema.score_snapshots.c.as_of).distinct())]
        assert len(dates) == 5  # the as-of date and 4 weeks back
        for d in dates:
            pd.testing.assert_frame_equal(FS.read(conn, d), FE.features_as_of(conn, d),
                                          obj=str(d))


def _no_computing(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("features computed although the scoring run stored them")
    # (the pages compute through feature_snapshots.features_known, or the behavior
    # features a year back)
    monkeypatch.setattr(FS, "features_as_of", refuse)
    monkeypatch.setattr(SG, "behavior_features_as_of", refuse)


def _assigned(monkeypatch) -> list:
    """The feature frames Clustering.assign is given from now on, in order."""
    seen = []
    assign = SG.Clustering.assign

    def spy(self, feats):
        seen.append(feats)
        return assign(self, feats)
    monkeypatch.setattr(SG.Clustering, "assign", spy)
    return seen


def test_segmentation_reads_the_stored_features_and_shows_the_same_accounts(
        scored_store_copy, monkeypatch):
    _, eng = scored_store_copy
    f = Filters(as_of=DEMO_AS_OF + dt.timedelta(days=3))  # a new date: the snapshot before
    with eng.begin() as conn:  # the same page without stored frames computes them
        stored = pd.read_sql(sa.select(schema.feature_snapshots), conn)
        conn.execute(schema.feature_snapshots.delete())
    with eng.connect() as conn:
        computed = SG.account_frame(conn, f)
    with eng.begin() as conn:
        conn.execute(schema.feature_snapshots.insert(), stored.to_dict("records"))
    _no_computing(monkeypatch)
    with eng.connect() as conn:
        pd.testing.assert_frame_equal(SG.account_frame(conn, f), computed)
        with pytest.raises(AssertionError, match="features computed"):  # no snapshot there
            SG.account_frame(conn, Filters(as_of=DEMO_AS_OF - dt.timedelta(days=60)))


@pytest.mark.parametrize("off", [-3, 3])
def test_persona_benchmarks_group_the_year_before_by_the_snapshot_of_that_week(
        scored_store_copy, monkeypatch, off):
    _, eng = scored_store_copy
    year_before = DEMO_AS_OF - SG.YEAR + dt.timedelta(days=off)  # 3 days either side
    score(eng, as_of=year_before, backfill_weeks=0, evaluate_models=False)
    with eng.connect() as conn:
        expected_then = FE.features_as_of(conn, year_before)
    _no_computing(monkeypatch)
    seen = _assigned(monkeypatch)
    with eng.connect() as conn:
        out = SG.personas(conn, Filters(as_of=DEMO_AS_OF))
    assert out["clustering"].model is not None, out["clustering"].reason
    assert "persona_benchmarks" in out
    pd.testing.assert_frame_equal(seen[0], expected_then)


def test_the_threshold_preview_reads_the_rules_inputs_the_run_stored(scored_demo_store,
                                                                     monkeypatch):
    import copy

    from greendoor.settings import current

    _, eng = scored_demo_store
    with eng.connect() as conn:
        settings = current(conn)[1]
        seg = FS.read(conn, DEMO_AS_OF)["segment"].value_counts().index[0]
    proposed = copy.deepcopy(settings)
    proposed["rules_by_segment"] = {seg: {"warning_usage_decline": 0.10}}
    with eng.connect() as conn:  # computed at the scoring date, as before it was stored
        monkeypatch.setattr(FS, "latest", lambda *a, **k: None)
        expected = IB.threshold_preview(conn, settings, proposed, seg, DEMO_AS_OF)
        monkeypatch.undo()
    _no_computing(monkeypatch)
    with eng.connect() as conn:
        got = IB.threshold_preview(conn, settings, proposed, seg, DEMO_AS_OF)
    pd.testing.assert_frame_equal(got, expected)
    assert got["now_candidate"].sum() > 0  # the preview counted alerts on the stored frame


def test_a_frame_this_version_cannot_read_is_computed_again(scored_store_copy):
    _, eng = scored_store_copy
    fs = schema.feature_snapshots
    with eng.begin() as conn:
        conn.execute(fs.update().where(fs.c.as_of == DEMO_AS_OF).values(frame=b"PAR1 not arrow"))
    with eng.connect() as conn:
        assert FS.read(conn, DEMO_AS_OF) is None
        on, got = FS.features_known(conn, DEMO_AS_OF)
        assert on == DEMO_AS_OF
        pd.testing.assert_frame_equal(got, FE.features_as_of(conn, DEMO_AS_OF))


def test_persona_benchmarks_without_a_snapshot_near_a_year_before_compute_what_they_need(
        scored_demo_store, monkeypatch):
    _, eng = scored_demo_store
    year_before = DEMO_AS_OF - SG.YEAR
    seen = _assigned(monkeypatch)
    with eng.connect() as conn:
        out = SG.personas(conn, Filters(as_of=DEMO_AS_OF))
        full = FE.features_as_of(conn, year_before)
    assert "persona_benchmarks" in out
    cols = list(SG.CLUSTER_FEATURES)
    pd.testing.assert_frame_equal(seen[0][cols], full[cols])


@pytest.mark.parametrize("which", ["demo", "ravenstack"])
def test_behavior_features_are_the_full_features_columns(which, scored_demo_store,
                                                          ravenstack_store):
    _, eng = scored_demo_store if which == "demo" else ravenstack_store
    assert set(SG.CLUSTER_FEATURES) <= set(FE.BEHAVIOR_FEATURES)
    days = [DEMO_AS_OF - dt.timedelta(days=n) for n in (0, 200)] if which == "demo" else \
        [dt.date(2024, 6, 1), dt.date(2024, 12, 15)]
    with eng.connect() as conn:
        for d in days:
            got = FE.behavior_features_as_of(conn, d)
            full = FE.features_as_of(conn, d)
            assert len(got) > 50 and got["tickets_90d"].sum() > 0, d
            pd.testing.assert_frame_equal(got, full[got.columns], obj=str(d))
