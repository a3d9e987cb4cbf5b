"""Rule thresholds per segment (issue 19): a segment's own value decides for its accounts
(as of the date scored), bad values are refused in words, and the preview re-runs the
rules on today's and past scorings with the proposed values, checked by hand."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from greendoor import config, rules
from greendoor import settings as S
from greendoor.analytics import alerts as IB
from greendoor.analytics.portfolio_health import snapshot_date
from greendoor.scoring.alerts import account_alerts
from greendoor.scoring.features import features_as_of
from greendoor.scoring.labels import churn_labels
from greendoor.scoring.run import score
from tests.conftest import DEMO_AS_OF


def _frame(segments: list[str], usage_change: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"A{i}" for i in range(len(segments))]
    f = pd.DataFrame({c: np.nan for c in rules.features_used()}, index=ids)
    f["usage_change_mom"] = usage_change
    f["segment"] = segments
    f["champion_active"] = np.nan
    sc = pd.DataFrame({"band": "green", "health_score": 80.0, "health_change": 0.0}, index=ids)
    return f, sc


def test_a_segments_own_threshold_decides_for_its_accounts_only():
    """Usage down 20 %: under the default (30 %) no alert; enterprise sets 15 %, so its two
    accounts are alerted, with 15 % as their evidence, and the smb account is not."""
    f, sc = _frame(["enterprise", "enterprise", "smb"], -0.20)
    settings = config.default_settings()
    assert account_alerts(f, sc, settings, DEMO_AS_OF).empty
    settings["rules_by_segment"] = {"enterprise": {"warning_usage_decline": 0.15}}
    al = account_alerts(f, sc, settings, DEMO_AS_OF)
    assert al["account_id"].tolist() == ["A0", "A1"] and set(al["rule"]) == {"usage_decline"}
    assert [e["threshold"] for e in al["evidence"]] == [-0.15, -0.15]
    assert rules.for_segment(settings, "smb")["warning_usage_decline"] == 0.30
    assert rules.for_segment(settings, "enterprise")["warning_usage_decline"] == 0.15


@pytest.mark.parametrize("value, words", [
    ({"enterprise": {"warning_usage_decline": "lots"}}, "valid number"),
    ({"enterprise": {"warning_usage_decline": 1.5}}, "1.5 is outside 0 to 1 (share)"),
    ({"enterprise": {"vibes": 1}}, "unknown threshold 'vibes'"),
    ({"enterprise": {"checkin_no_contact_days": 14.5}}, "not a whole number of days"),
    ({"enterprise": {"product_gap_arr": 5}}, "unknown threshold 'product_gap_arr'"),
])
def test_bad_segment_thresholds_are_refused_in_words(value, words):
    s = config.default_settings()
    s["rules_by_segment"] = value
    with pytest.raises(S.SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        S.validate(s)


def test_preview_by_hand(scored_store_copy):
    """One past scoring 120 days back. Proposed: the largest segment
    flags usage down 10 % instead of 30 %. Today: the segment's accounts whose usage fell
    10 % or more but not into a collapse (the escalation's 50 %). Then: the share of those
    accounts that churned within 90 days over the segment's share."""
    _, eng = scored_store_copy
    past = DEMO_AS_OF - dt.timedelta(days=120)
    score(eng, as_of=past, backfill_weeks=0, evaluate_models=False)
    with eng.connect() as conn:
        cur = S.current(conn)[1]
        now_f = features_as_of(conn, snapshot_date(conn, DEMO_AS_OF))
        seg = now_f["segment"].value_counts().index[0]
        new = copy.deepcopy(cur)
        new["rules_by_segment"] = {seg: {"warning_usage_decline": 0.10}}
        p = IB.threshold_preview(conn, cur, new, seg, DEMO_AS_OF, horizon_days=90,
                                 every_weeks=1, max_dates=1).set_index("rule")
        then_f = features_as_of(conn, past)
        y = churn_labels(conn, past, 90)
    collapse = cur["rules"]["escalation_usage_drop"]

    def flagged(f, t):
        f = f[f["segment"] == seg]
        u = f["usage_change_mom"]
        return f.index[(u <= -t) & ~(u <= -collapse)]

    assert list(p.index) == ["usage_decline"]  # the only rule reading that threshold
    row = p.loc["usage_decline"]
    assert row["now_candidate"] == len(flagged(now_f, 0.10))
    assert row["now_current"] == len(flagged(now_f, 0.30)) <= row["now_candidate"]
    raised = flagged(then_f, 0.10)
    assert row["raised_candidate"] == len(raised) > 0 and row["dates"] == 1
    base = y.reindex(then_f.index[then_f["segment"] == seg]).dropna().mean()
    assert row["base_rate"] == pytest.approx(base)
    assert base > 0, "the test store should have churn in the 90 days after its past date"
    assert row["lift_candidate"] == pytest.approx(y.reindex(raised).mean() / base)
    with eng.connect() as conn:  # nothing changes: nothing to preview
        assert IB.threshold_preview(conn, cur, cur, seg, DEMO_AS_OF).empty
