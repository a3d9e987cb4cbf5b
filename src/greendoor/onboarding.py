"""Onboarding and value realization: the CS domain's rules as small pure functions
(issue 20; seed journeys 9.1.1 and 9.1.2).

* The 90-day plan in three phases (SPEC.md "Playbooks"; seed 9.1.1.3): Foundation days
  1-30, Integration 31-60, Realization 61-90, day 1 being the plan's start date.
* Status: a plan is **stuck** when its most overdue open milestone is at least
  ``stuck_days`` late, **behind** from ``behind_days``, else **on track**; **complete**
  when every milestone is done (:func:`status`).
* Critical path: the dependency chain whose durations add up to the longest time
  (:func:`critical_path`), a topological pass (stdlib :mod:`graphlib`).
* Approval SLA: ``sla_days`` business days (Monday-Friday) from submission
  (:func:`sla`, numpy's business-day calendar; seed 9.1.1.4: 2 business days).
* Time to value (SPEC.md): days from the plan's start to the first completed value
  milestone; time to first value: to the first completed adoption or value milestone.
* ROI = (benefit - cost) / cost (seed 9.1.2.3), benefit = sum over value metrics of the
  improvement on the baseline (in the better direction) x the money a unit is worth per
  year; its interval draws each metric's unit value from a triangular (low, mode, high)
  distribution (:func:`roi_interval`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import graphlib
import re

import numpy as np
import pandas as pd

#: (phase, first day, last day) of the 90-day plan; day 1 is the start date.
PHASES: tuple[tuple[str, int, int], ...] = (("foundation", 1, 30), ("integration", 31, 60),
                                            ("realization", 61, 90))
STATUSES = ("on track", "behind", "stuck", "complete")
RACI = ("responsible", "accountable", "consulted", "informed")


def phase_of(start: dt.date, d: dt.date) -> str:
    """The phase a plan started on ``start`` is in at ``d``: ``not started`` before day 1,
    ``after day 90`` past the last phase."""
    day = (d - start).days + 1
    if day < 1:
        return "not started"
    for name, lo, hi in PHASES:
        if lo <= day <= hi:
            return name
    return "after day 90"


def dependencies(text) -> list[str]:
    """Milestone ids in a ``depends_on`` cell (comma- or space-separated; empty -> [])."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return [t for t in re.split(r"[,\s;]+", str(text)) if t]


def dependency_cycle(milestones: pd.DataFrame) -> list[str] | None:
    """A cycle among ``milestones`` (columns ``milestone_id, depends_on``) as the ids
    around it (first repeated last), or ``None`` when the dependencies form a DAG.
    Dependencies on ids not in the frame are ignored here (the importer reports them)."""
    ids = set(milestones["milestone_id"])
    ts = graphlib.TopologicalSorter({m: [x for x in dependencies(d) if x in ids]
                                     for m, d in zip(milestones["milestone_id"],
                                                     milestones["depends_on"], strict=True)})
    try:
        ts.prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def critical_path(milestones: pd.DataFrame) -> list[str]:
    """The critical path of one plan: the chain of dependent milestones whose durations
    add up to the longest time, in order.

    ``milestones``: ``milestone_id, start_date, due_date, depends_on``; a milestone's
    duration is ``due_date - start_date`` in days (at least 1; 1 without a start). The
    earliest finish of a milestone is the latest earliest finish of what it depends on
    plus its duration; the path ends at the milestone with the latest earliest finish
    (ties: the later due date, then the id) and walks back through the predecessor that
    set each start. Raises ``ValueError`` on a dependency cycle."""
    if milestones.empty:
        return []
    cyc = dependency_cycle(milestones)
    if cyc:
        raise ValueError("dependency cycle: " + " -> ".join(cyc))
    rows = milestones.set_index("milestone_id")
    dur = {m: max(1, (pd.Timestamp(r["due_date"]) - pd.Timestamp(r["start_date"])).days)
           if pd.notna(r.get("start_date")) else 1 for m, r in rows.iterrows()}
    deps = {m: [x for x in dependencies(r["depends_on"]) if x in rows.index]
            for m, r in rows.iterrows()}
    finish: dict[str, int] = {}
    prev: dict[str, str | None] = {}
    for m in graphlib.TopologicalSorter(deps).static_order():
        best = max(deps[m], key=lambda x: (finish[x], x), default=None)
        finish[m] = (finish[best] if best else 0) + dur[m]
        prev[m] = best
    end = max(finish, key=lambda m: (finish[m], pd.Timestamp(rows.at[m, "due_date"]), m))
    path = [end]
    while prev[path[-1]]:
        path.append(prev[path[-1]])
    return path[::-1]


@dataclasses.dataclass(frozen=True)
class Sla:
    """An approval's service level: ``due`` (the submission instant moved on
    ``business_days`` Monday-Friday days), ``business_days_left`` (whole business days from
    ``now``'s day to the due day; negative when late) and ``overdue``."""
    due: dt.datetime
    business_days_left: int
    overdue: bool


def sla(submitted_at: dt.datetime, now: dt.datetime, business_days: int = 2) -> Sla:
    """The approval SLA of a plan submitted at ``submitted_at``, seen at ``now``.

    The due instant keeps the submission's clock time; a submission on a weekend counts
    from the next Monday 00:00. Hand case: submitted Friday 2026-11-27 15:00 with
    2 business days -> due Tuesday 2026-12-01 15:00; on Monday 09:00 one business day is
    left; on Wednesday it is overdue."""
    day = np.datetime64(submitted_at.date(), "D")
    due_day = np.busday_offset(day, business_days, roll="forward")
    moved = np.busday_offset(day, 0, roll="forward") != day
    clock = dt.time(0, 0) if moved else submitted_at.time()
    due = dt.datetime.combine(due_day.astype(dt.date), clock)
    left = int(np.busday_count(np.datetime64(now.date(), "D"), due_day)) if now.date() <= \
        due.date() else -int(np.busday_count(due_day, np.datetime64(now.date(), "D")))
    return Sla(due=due, business_days_left=left, overdue=now > due)


def status(days_behind: float, done: int, total: int, behind_days: int = 7,
           stuck_days: int = 21) -> str:
    """``complete`` when all ``total`` milestones are ``done``; else ``stuck`` when the most
    overdue open milestone is ``stuck_days`` or more late, ``behind`` from
    ``behind_days``, else ``on track``."""
    if total and done >= total:
        return "complete"
    if days_behind >= stuck_days:
        return "stuck"
    if days_behind >= behind_days:
        return "behind"
    return "on track"


def status_rule(behind_days: int, stuck_days: int) -> str:
    """The status rule in words (shown on the page)."""
    return (f"Stuck: an open milestone is {stuck_days}+ days past its due date. Behind: "
            f"{behind_days}+ days. On track: none is {behind_days} days late. Complete: every "
            "milestone done.")


_RULE = re.compile(r"^\s*(active_users|feature_users:(?P<feature>[\w .-]+?))\s*>=\s*"
                   r"(?P<n>\d+)\s*$")


def parse_rule(rule) -> tuple[str, str | None, int] | None:
    """A completion rule as ``(measure, feature, n)``: ``active_users>=5`` (5 distinct
    users active since the plan started) or ``feature_users:reports>=3`` (3 distinct users
    of the feature ``reports``). ``None`` for an empty rule (manual completion); raises
    ``ValueError`` naming the rule for anything else."""
    if rule is None or (isinstance(rule, float) and np.isnan(rule)) or not str(rule).strip():
        return None
    m = _RULE.match(str(rule))
    if not m:
        raise ValueError(f"completion rule {rule!r}: use 'active_users>=N' or "
                         "'feature_users:FEATURE>=N'")
    feature = m.group("feature")
    return ("feature_users" if feature else "active_users", feature, int(m.group("n")))


def improvement(baseline: float, value: float, direction: str | None) -> float:
    """Units gained on the baseline in the better direction (negative when worse)."""
    return (baseline - value) if direction == "decrease" else (value - baseline)


def planned(baseline: float, target: float, start: dt.date, target_date: dt.date,
            d: dt.date) -> float:
    """The planned trajectory: linear from the baseline at ``start`` to the target at
    ``target_date``, flat after it (and at the baseline before ``start``)."""
    span = max((target_date - start).days, 1)
    f = min(max((d - start).days / span, 0.0), 1.0)
    return baseline + (target - baseline) * f


def roi(benefit: float, cost: float) -> float:
    """(benefit - cost) / cost; NaN when the cost is not positive."""
    return (benefit - cost) / cost if cost and cost > 0 else float("nan")


def roi_interval(gains: np.ndarray, low: np.ndarray, mode: np.ndarray, high: np.ndarray,
                 cost: float, draws: int = 10_000, seed: int = 20, level: float = 0.8
                 ) -> tuple[float, float, float]:
    """Monte Carlo interval of the ROI: each metric's value per unit drawn from a
    triangular (``low``, ``mode``, ``high``) distribution (a missing low or high is the
    mode), the benefit ``sum(gains x unit value)``, the ROI of each draw. Returns the
    ``(1-level)/2``, median and ``(1+level)/2`` quantiles. Arrays are per metric."""
    gains = np.asarray(gains, dtype=float)
    mode = np.asarray(mode, dtype=float)
    lo = np.where(np.isnan(low), mode, np.minimum(low, mode))
    hi = np.where(np.isnan(high), mode, np.maximum(high, mode))
    rng = np.random.default_rng(seed)
    vals = np.empty((draws, len(gains)))
    for k in range(len(gains)):
        vals[:, k] = mode[k] if hi[k] == lo[k] else rng.triangular(lo[k], mode[k], hi[k], draws)
    benefit = vals @ gains
    r = (benefit - cost) / cost
    q = np.quantile(r, [(1 - level) / 2, 0.5, (1 + level) / 2])
    return float(q[0]), float(q[1]), float(q[2])


def raci_problems(stakeholders: pd.DataFrame) -> list[str]:
    """What keeps a plan's RACI from covering its roles (seed 9.1.1.2): at least one
    Accountable and one Responsible, every role known, every person named. Empty when
    covered."""
    out = []
    roles = stakeholders["raci"].fillna("").str.lower().str.strip() if len(stakeholders) else \
        pd.Series(dtype=object)
    unknown = sorted(set(roles) - set(RACI))
    if unknown:
        out.append("unknown RACI role " + ", ".join(repr(u) for u in unknown)
                   + " (use " + ", ".join(RACI) + ")")
    if not (roles == "accountable").any():
        out.append("no one is Accountable")
    if not (roles == "responsible").any():
        out.append("no one is Responsible")
    if len(stakeholders) and stakeholders["name"].fillna("").str.strip().eq("").any():
        out.append("a stakeholder has no name")
    return out
