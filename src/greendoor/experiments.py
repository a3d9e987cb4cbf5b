"""Controlled experiments of CS playbooks (issue 25): a manager names two or more arms (a
playbook each, or none), Greendoor assigns the eligible accounts at random, stratified,
with a stored seed, starts each arm's playbook, and once the outcome window has closed
says what the playbook did to retention, health and renewal, with intervals.

**Assignment** (:func:`assign`). Strata are segment x health band at the start (the latest
scoring on or before it); within a stratum the accounts, sorted by id, are shuffled by
``numpy.random.default_rng(seed)`` and dealt to the arms in turn from a random first arm,
so the arms are balanced within one account in every stratum and the same seed on the
same accounts gives the same arms.

**Outcome** (:func:`results`). For each account: retained = no churn from the start to the
end of the window (:func:`greendoor.scoring.labels.churn_labels`, the definition the churn
model is measured with); health change = its health score at the last scoring on or
before the window's end minus the one at the start; renewed = retained, among accounts
whose renewal in force at the start fell inside the window. Each arm is compared with the
control (the first arm):

- difference in retention, with the two-proportion z-test (pooled; statsmodels
  ``proportions_ztest``) and Newcombe's interval for a difference of independent
  proportions (statsmodels ``confint_proportions_2indep``), and a percentile bootstrap
  interval (scipy ``bootstrap``, the experiment's seed);
- difference in mean health change, with its bootstrap interval;
- the accounts each arm needed to detect ``min_effect`` at ``alpha`` and ``power``
  (statsmodels ``NormalIndPower`` on Cohen's h, :func:`needed_per_arm`).

**Conclusive** when the window has closed, and the interval excludes 0 (an effect) or lies
within +/- ``min_effect`` (no effect that large); otherwise the page says what is missing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import secrets

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import actions as A
from greendoor import audit, state
from greendoor.access import Actor, actor_name
from greendoor.analytics.portfolio_health import scores, snapshot_date
from greendoor.periods import Filters
from greendoor.playbooks import PLAYBOOKS
from greendoor.scoring.labels import churn_labels
from greendoor.store import schema
from greendoor.store.engine import new_id

#: The arm without a playbook.
NONE = "none"


class ExperimentError(ValueError):
    """An experiment is invalid; the message names the part, the value and the rule."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """A checked experiment (see :func:`check`)."""

    name: str
    arms: tuple[dict, ...]  # {"name", "playbook" (a key of PLAYBOOKS, or None)}
    segment: str | None
    accounts: tuple[str, ...]
    outcome_days: int
    min_effect: float
    alpha: float
    power: float
    hypothesis: str | None = None
    seed: int | None = None


def check(spec: dict, defaults: dict) -> Spec:
    """The :class:`Spec` of ``spec`` (``name``, ``arms``: a list of playbook keys or
    ``"none"``, optional ``segment``, ``accounts``, ``outcome_days``, ``min_effect``,
    ``alpha``, ``power``, ``hypothesis``, ``seed``), missing figures from ``defaults`` (the
    settings' ``experiments``). Raises :class:`ExperimentError` naming each problem."""
    errs: list[str] = []
    name = str(spec.get("name") or "").strip()
    if not name:
        errs.append("name: an experiment needs a name")
    arms = []
    for i, pb in enumerate(spec.get("arms") or [], start=1):
        key = None if pb in (None, "", NONE) else str(pb)
        if key is not None and key not in PLAYBOOKS:
            errs.append(f"arm {i}: unknown playbook {pb!r}; one of {NONE}, "
                        f"{', '.join(PLAYBOOKS)}")
        arms.append({"name": PLAYBOOKS[key].name if key in PLAYBOOKS else "No playbook",
                     "playbook": key})
    if len(arms) < 2:
        errs.append("arms: at least two (e.g. a playbook against none)")
    elif len({a["playbook"] for a in arms}) < len(arms):
        errs.append("arms: each arm must differ")
    figures = {}
    for key, lo, hi in (("outcome_days", 30, 730), ("min_effect", 0.005, 0.99),
                        ("alpha", 0.001, 0.5), ("power", 0.5, 0.99)):
        raw = spec.get(key, defaults[key])
        try:
            value = float(raw)
            if not lo <= value <= hi:
                raise ValueError
        except (TypeError, ValueError):
            errs.append(f"{key}: {raw!r} is not between {lo:g} and {hi:g}")
            value = float(defaults[key])
        figures[key] = value
    if errs:
        raise ExperimentError("invalid experiment:\n- " + "\n- ".join(errs))
    seed = spec.get("seed")
    return Spec(name=name, arms=tuple(arms), segment=spec.get("segment") or None,
                accounts=tuple(str(a) for a in spec.get("accounts") or ()),
                outcome_days=int(figures["outcome_days"]), min_effect=figures["min_effect"],
                alpha=figures["alpha"], power=figures["power"],
                hypothesis=(str(spec.get("hypothesis") or "").strip() or None),
                seed=int(seed) if seed is not None else None)


def assign(frame: pd.DataFrame, arms: list[str], seed: int) -> pd.DataFrame:
    """Stratified random assignment: ``frame`` indexed by ``account_id`` with ``segment``
    and ``band``; returns ``account_id, stratum, arm`` (see the module docstring). The
    same accounts and seed give the same arms, whatever order the rows came in."""
    rng = np.random.default_rng(seed)
    df = frame.sort_index()
    strata = (df["segment"].fillna("unknown").astype(str) + " · "
              + df["band"].fillna("unscored").astype(str))
    out = []
    for stratum in sorted(strata.unique()):
        ids = df.index[strata == stratum].to_numpy()
        ids = ids[rng.permutation(len(ids))]
        first = int(rng.integers(len(arms)))
        for j, aid in enumerate(ids):
            out.append((aid, stratum, arms[(first + j) % len(arms)]))
    return pd.DataFrame(out, columns=["account_id", "stratum", "arm"])


def eligible(conn: Connection, spec: Spec, start: dt.date) -> pd.DataFrame:
    """The accounts an experiment starting on ``start`` may draw: scored on or before it,
    with ARR, in the segment and list given, not in another experiment still measuring
    its outcome on ``start`` (a running one whose window has not closed), and (when
    an arm runs the renewal playbook) with a renewal in force. Index ``account_id``;
    ``name, segment, band, csm_owner``."""
    df = scores(conn, Filters(as_of=start, segment=spec.segment))
    if df.empty:
        return pd.DataFrame(columns=["name", "segment", "band", "csm_owner"])
    df = df[df["arr"].fillna(0) > 0]
    if spec.accounts:
        df = df[df["account_id"].isin(set(spec.accounts))]
    ex, asg = schema.experiments, schema.experiment_assignments
    live = [r[0] for r in conn.execute(sa.select(ex.c.experiment_id, ex.c.start_date,
                                                 ex.c.outcome_days)
                                       .where(ex.c.status == "running"))
            if r[1] <= start < r[1] + dt.timedelta(days=r[2])]  # still measuring then
    busy = {r[0] for r in conn.execute(sa.select(asg.c.account_id).where(
        asg.c.experiment_id.in_(live)))} if live else set()
    df = df[~df["account_id"].isin(busy)]
    if any(a["playbook"] and PLAYBOOKS[a["playbook"]].relative_to == "renewal"
           for a in spec.arms):
        nxt = state.next_renewals(conn, start).dropna(subset=["next_renewal"])
        df = df[df["account_id"].isin(set(nxt["account_id"]))]
    return df.set_index("account_id")[["name", "segment", "band", "csm_owner"]]


def plan(conn: Connection, spec: dict, defaults: dict, start: dt.date) -> dict:
    """Before creating: ``eligible`` accounts, ``per_arm`` (what each arm would get),
    ``base_retention`` (the share of accounts with ARR ``outcome_days`` before ``start``
    that did not churn in the next ``outcome_days``: what the control is expected to
    keep), ``needed_per_arm`` to detect ``min_effect`` from it, and ``enough``. Raises
    :class:`ExperimentError`."""
    s = check(spec, defaults)
    n = len(eligible(conn, s, start))
    y = churn_labels(conn, start - dt.timedelta(days=s.outcome_days), s.outcome_days)
    base = 1 - float(y.mean()) if len(y) else 0.9
    need = needed_per_arm(base, s.min_effect, s.alpha, s.power)
    return {"eligible": n, "per_arm": n // len(s.arms), "base_retention": base,
            "needed_per_arm": need, "enough": n // len(s.arms) >= need}


def create(engine: Engine, spec: dict, defaults: dict, actor: Actor,
           start: dt.date | None = None, runs_from: dt.date | None = None) -> str:
    """Create an experiment starting on ``start`` (default today; the app passes the date
    of the latest scoring, whose scores pick the eligible accounts and strata and from
    which the outcome window runs), in **one transaction**: the experiment, each eligible
    account's arm, each arm's playbook run (owned by the account's CSM, its steps due from
    ``runs_from``, default ``start``) with its audit rows, and an ``experiment.create``
    audit row. Managers and admins only. Returns the experiment id; raises
    :class:`ExperimentError` (nothing written) for a bad spec or fewer than two eligible
    accounts per arm."""
    s = check(spec, defaults)
    start = start or dt.date.today()
    runs_from = runs_from or start
    seed = s.seed if s.seed is not None else secrets.randbits(31)
    ex, asg = schema.experiments, schema.experiment_assignments
    with engine.begin() as conn:
        who = actor_name(actor, "reassign")
        pool = eligible(conn, s, start)
        if len(pool) < 2 * len(s.arms):
            raise ExperimentError(f"only {len(pool)} eligible account(s) for {len(s.arms)} "
                                  "arms: widen the segment or list")
        keys = [a["playbook"] or NONE for a in s.arms]
        arms = assign(pool, keys, seed)
        eid = new_id()
        conn.execute(ex.insert().values(
            experiment_id=eid, name=s.name, hypothesis=s.hypothesis,
            arms_json=json.dumps(list(s.arms)),
            scope_json=json.dumps({"segment": s.segment, "accounts": list(s.accounts)}),
            seed=seed, start_date=start, outcome_days=s.outcome_days, min_effect=s.min_effect,
            alpha=s.alpha, power=s.power, status="running", created_by=who,
            created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
        renewals = state.next_renewals(conn, start).set_index("account_id")["next_renewal"]
        accounts = schema.accounts
        rows = {r["account_id"]: dict(r) for r in conn.execute(sa.select(accounts).where(
            accounts.c.account_id.in_(arms["account_id"].tolist()))).mappings()}
        out = []
        for r in arms.itertuples(index=False):
            action_id = None
            if r.arm != NONE:
                acc = rows[r.account_id]
                base = runs_from
                if PLAYBOOKS[r.arm].relative_to == "renewal":
                    base = pd.Timestamp(renewals[r.account_id]).date()
                action_id = A.add_playbook_run(conn, who, acc, r.arm, runs_from, base,
                                               acc.get("csm_owner") or "unassigned")
            out.append({"experiment_id": eid, "account_id": r.account_id, "arm": r.arm,
                        "stratum": r.stratum, "action_id": action_id})
        conn.execute(asg.insert(), out)
        audit.record(conn, who, "experiment.create", "experiments", eid, before=None,
                     after={"name": s.name, "arms": keys, "seed": seed, "accounts": len(out),
                            "start": start.isoformat(), "outcome_days": s.outcome_days})
    return eid


def stop(engine: Engine, experiment_id: str, actor: Actor) -> None:
    """Stop an experiment: its accounts may join another; its results stay. Audited."""
    ex = schema.experiments
    with engine.begin() as conn:
        who = actor_name(actor, "reassign")
        n = conn.execute(ex.update().where(ex.c.experiment_id == experiment_id,
                                           ex.c.status == "running")
                         .values(status="stopped")).rowcount
        if n != 1:
            raise ExperimentError(f"no running experiment {experiment_id!r}")
        audit.record(conn, who, "experiment.stop", "experiments", experiment_id,
                     before={"status": "running"}, after={"status": "stopped"})


def listing(conn: Connection) -> pd.DataFrame:
    """Every experiment, newest first: ``experiment_id, name, hypothesis, arms`` (list),
    ``seed, start_date, outcome_days, ends`` (the window's end), ``min_effect, alpha,
    power, status, created_by, accounts``."""
    ex, asg = schema.experiments, schema.experiment_assignments
    n = sa.select(asg.c.experiment_id, sa.func.count().label("accounts")).group_by(
        asg.c.experiment_id).subquery()
    df = pd.read_sql(sa.select(ex, sa.func.coalesce(n.c.accounts, 0).label("accounts"))
                     .select_from(ex.outerjoin(n, n.c.experiment_id == ex.c.experiment_id))
                     .order_by(ex.c.created_at.desc()), conn)
    df["arms"] = [json.loads(a) for a in df["arms_json"]]
    df["start_date"] = pd.to_datetime(df["start_date"]).dt.date
    df["ends"] = [s + dt.timedelta(days=int(d)) for s, d in
                  zip(df["start_date"], df["outcome_days"], strict=True)]
    return df.drop(columns=["arms_json", "scope_json"])


# --------------------------------------------------------------------------- #
# the statistics (pure)
# --------------------------------------------------------------------------- #
def needed_per_arm(p_control: float, min_effect: float, alpha: float, power: float) -> int:
    """Accounts each arm needs to detect a retention difference of ``min_effect`` from
    ``p_control`` (two-sided test at ``alpha``, with ``power``): statsmodels'
    ``NormalIndPower`` on Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)), i.e.
    n = 2 ((z(1 - alpha/2) + z(power)) / h)^2 (each arm's transformed rate has variance
    1/n), rounded up (Cohen 1988, ch. 6). The larger of the samples for an effect up and
    down (the harder one to see; only the possible ones near 0 % and 100 %)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    p0 = min(max(p_control, 0.001), 0.999)
    hs = [abs(proportion_effectsize(p1, p0)) for p1 in (p0 + min_effect, p0 - min_effect)
          if 0 < p1 < 1]
    n = NormalIndPower().solve_power(effect_size=min(hs), alpha=alpha, power=power, ratio=1.0,
                                     alternative="two-sided")
    return int(math.ceil(n))


def compare_proportions(x1: int, n1: int, x0: int, n0: int, alpha: float) -> dict:
    """Arm 1 against the control 0: ``diff`` = x1/n1 - x0/n0, ``z`` and ``p_value`` of the
    pooled two-proportion z-test, and Newcombe's ``lo``, ``hi`` at 1 - ``alpha``."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    if min(n1, n0) == 0:
        return {"diff": math.nan, "z": math.nan, "p_value": math.nan, "lo": math.nan,
                "hi": math.nan}
    diff = x1 / n1 - x0 / n0
    if x1 + x0 in (0, n1 + n0):  # everyone (or no one) retained: no variance to test
        z, p = 0.0, 1.0
    else:
        z, p = proportions_ztest([x1, x0], [n1, n0])
    lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff",
                                        alpha=alpha)
    return {"diff": diff, "z": float(z), "p_value": float(p), "lo": float(lo),
            "hi": float(hi)}


def bootstrap_diff(a: np.ndarray, b: np.ndarray, alpha: float, seed: int,
                   resamples: int) -> tuple[float, float]:
    """Percentile bootstrap interval at 1 - ``alpha`` of mean(a) - mean(b), the two
    samples resampled independently (scipy ``bootstrap``); NaN without two values each."""
    from scipy.stats import bootstrap

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        d = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
        return d, d
    res = bootstrap((a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis),
                    vectorized=True, n_resamples=resamples, confidence_level=1 - alpha,
                    method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
def outcomes(conn: Connection, experiment_id: str, as_of: dt.date) -> pd.DataFrame:
    """Per assigned account: ``account_id, arm, stratum, retained`` (1/0: no churn from the
    start to the window's end, or to ``as_of`` while it is open), ``health_change``
    (points), ``renewing`` (its renewal in force at the start falls in the window) and
    ``renewed``."""
    ex, asg = schema.experiments, schema.experiment_assignments
    e = conn.execute(sa.select(ex).where(ex.c.experiment_id == experiment_id)).mappings().one()
    start = e["start_date"]
    end = min(start + dt.timedelta(days=e["outcome_days"]), as_of)
    df = pd.read_sql(sa.select(asg.c.account_id, asg.c.arm, asg.c.stratum)
                     .where(asg.c.experiment_id == experiment_id), conn)
    churned = churn_labels(conn, start, max((end - start).days, 0))
    df["retained"] = 1 - df["account_id"].map(churned).fillna(0).astype(int)
    ss = schema.score_snapshots

    def health(day: dt.date | None) -> pd.Series:
        if day is None:
            return pd.Series(dtype=float)
        return pd.read_sql(sa.select(ss.c.account_id, ss.c.health_score)
                           .where(ss.c.as_of == day), conn).set_index("account_id")[
            "health_score"]

    h0 = health(snapshot_date(conn, start))
    h1 = health(snapshot_date(conn, end)) if end > start else pd.Series(dtype=float)
    df["health_change"] = df["account_id"].map(h1) - df["account_id"].map(h0)
    nxt = state.next_renewals(conn, start).set_index("account_id")["next_renewal"]
    due = pd.to_datetime(df["account_id"].map(nxt))
    df["renewing"] = (due > pd.Timestamp(start)) & (due <= pd.Timestamp(end))
    df["renewed"] = np.where(df["renewing"], df["retained"], np.nan)
    return df


def results(conn: Connection, experiment_id: str, as_of: dt.date,
            resamples: int = 2000) -> dict:
    """What an experiment found by ``as_of``: ``experiment`` (its row), ``closed`` (the
    window has ended), ``arms`` (a frame per arm: ``arm, name, accounts, retained,
    retention, health_change, renewing, renewal_rate``), ``effects`` (one row per arm
    against the control: ``arm, name, retention_diff, p_value, lo, hi`` (Newcombe),
    ``boot_lo, boot_hi``, ``health_diff, health_lo, health_hi``, ``renewal_diff``,
    ``needed_per_arm`` (for ``min_effect`` at the control's retention), ``enough``,
    ``verdict`` (in words) and ``conclusive``)."""
    ex = schema.experiments
    e = dict(conn.execute(sa.select(ex).where(ex.c.experiment_id == experiment_id))
             .mappings().one())
    arms = json.loads(e["arms_json"])
    names = {(a["playbook"] or NONE): a["name"] for a in arms}
    keys = list(names)
    ends = e["start_date"] + dt.timedelta(days=e["outcome_days"])
    closed = as_of >= ends
    df = outcomes(conn, experiment_id, as_of)
    per = (df.groupby("arm").agg(accounts=("account_id", "size"), retained=("retained", "sum"),
                                 retention=("retained", "mean"),
                                 health_change=("health_change", "mean"),
                                 renewing=("renewing", "sum"),
                                 renewal_rate=("renewed", "mean"))
           .reindex(keys).reset_index())
    per["name"] = per["arm"].map(names)
    ctrl = keys[0]
    c = df[df["arm"] == ctrl]
    rows = []
    for k, arm in enumerate(keys[1:], start=1):
        t = df[df["arm"] == arm]
        cmp = compare_proportions(int(t["retained"].sum()), len(t), int(c["retained"].sum()),
                                  len(c), e["alpha"])
        blo, bhi = bootstrap_diff(t["retained"], c["retained"], e["alpha"], e["seed"] + k,
                                  resamples)
        hlo, hhi = bootstrap_diff(t["health_change"], c["health_change"], e["alpha"],
                                  e["seed"] + 100 + k, resamples)
        need = needed_per_arm(float(c["retained"].mean()) if len(c) else 0.9, e["min_effect"],
                              e["alpha"], e["power"])
        enough = min(len(t), len(c)) >= need
        effect = not math.isnan(cmp["lo"]) and (cmp["lo"] > 0 or cmp["hi"] < 0)
        bounded = cmp["lo"] > -e["min_effect"] and cmp["hi"] < e["min_effect"]
        conclusive = closed and (effect or bounded)
        rows.append({"arm": arm, "name": names[arm], "retention_diff": cmp["diff"],
                     "p_value": cmp["p_value"], "lo": cmp["lo"], "hi": cmp["hi"],
                     "boot_lo": blo, "boot_hi": bhi,
                     "health_diff": t["health_change"].mean() - c["health_change"].mean(),
                     "health_lo": hlo, "health_hi": hhi,
                     "renewal_diff": t["renewed"].mean() - c["renewed"].mean(),
                     "needed_per_arm": need, "enough": enough, "conclusive": conclusive,
                     "verdict": _verdict(closed, effect, bounded, cmp, e, need, ends,
                                         min(len(t), len(c)))})
    return {"experiment": e, "closed": closed, "ends": ends, "arms": per,
            "effects": pd.DataFrame(rows), "outcomes": df}


def _verdict(closed: bool, effect: bool, bounded: bool, cmp: dict, e: dict, need: int,
             ends: dt.date, n: int) -> str:
    """The finding in words."""
    span = f"{cmp['lo'] * 100:+.1f} to {cmp['hi'] * 100:+.1f} points"
    if not closed:
        return (f"Running: the outcome window closes on {ends:%d %b %Y}; nothing is "
                "concluded before then.")
    if effect:
        way = "more" if cmp["diff"] > 0 else "fewer"
        p = "p < 0.001" if cmp["p_value"] < 0.001 else f"p = {cmp['p_value']:.3f}"
        return (f"Conclusive: {abs(cmp['diff']) * 100:.1f} points {way} accounts retained "
                f"than the control ({span}, {p}).")
    if bounded:
        return (f"Conclusive: no effect as large as {e['min_effect'] * 100:.0f} points "
                f"({span}).")
    return (f"Not conclusive: {span} includes both no effect and one of "
            f"{e['min_effect'] * 100:.0f} points; {need:,} accounts per arm were needed, "
            f"{n:,} were in the smaller arm.")
