"""Success plans: made from a closed-won deal, edited, approved, and read at a date
(issue 20; seed stories 9.1.1.1-9.1.1.4 and 9.1.2.1-9.1.2.3).

Writes (each one transaction, audited by :func:`greendoor.audit.record` with the plan's
before and after, the plan's ``version`` raised by one):

* :func:`create_from_deal` - a plan from the segment's :data:`TEMPLATES` when a deal is
  won (:func:`close_deal` in the app, :func:`plans_for_won_deals` after an import);
* :func:`save_stakeholders` (refused unless the RACI has an Accountable and a
  Responsible), :func:`save_plan` (name, objectives, owner, investment), :func:`submit`,
  :func:`decide` (approve or reject; a manager or an admin), :func:`complete_milestone`,
  :func:`add_value_metric`, :func:`record_measurement`.

Reads at an as-of date ``d`` use only what was known then: plans created by ``d``, their
approval state from the submission and decision instants, milestones completed by ``d``
(by hand, or by their usage rule on usage rows dated up to ``d``), measurements up to
``d`` (:func:`plans_as_of`, :func:`milestones_as_of`, :func:`progress`, :func:`value_as_of`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import access, audit, onboarding
from greendoor.access import Actor
from greendoor.config import segment_from_arr
from greendoor.metrics.sql import arr_as_of_query
from greendoor.store import schema, usage_features
from greendoor.store.engine import new_id


class PlanError(ValueError):
    """A plan change is invalid; nothing was written."""


@dataclasses.dataclass(frozen=True)
class MilestoneTemplate:
    """One milestone of a template: days from the plan's start (day 1), its kind, the
    usage rule that completes it (``{n1}``-style counts filled per segment; ``{feature}``
    the book's most used feature) or ``None`` for a manual completion, what it depends on
    (keys of the same template) and who owns it."""
    key: str
    name: str
    phase: str
    kind: str
    start_day: int
    due_day: int
    rule: str | None = None
    depends: tuple[str, ...] = ()
    owner: str = "csm"  # csm | champion | sponsor


@dataclasses.dataclass(frozen=True)
class Template:
    """A segment's success plan: objectives, the 90-day milestones and the user counts
    its adoption rules ask for."""
    segment: str
    objectives: tuple[str, ...]
    first_users: int
    rollout_users: int
    feature_users: int
    milestones: tuple[MilestoneTemplate, ...] = (
        MilestoneTemplate("kickoff", "Kickoff and success criteria agreed", "foundation",
                          "checkpoint", 1, 7),
        MilestoneTemplate("setup", "Workspace, SSO and admin set up", "foundation", "technical",
                          3, 14, depends=("kickoff",), owner="champion"),
        MilestoneTemplate("first_users", "First users active", "foundation", "adoption", 8, 30,
                          rule="active_users>={first_users}", depends=("setup",)),
        MilestoneTemplate("integration", "Data integration live", "integration", "technical",
                          15, 45, depends=("setup",), owner="champion"),
        MilestoneTemplate("rollout", "Team rolled out", "integration", "adoption", 31, 60,
                          rule="active_users>={rollout_users}", depends=("first_users",)),
        MilestoneTemplate("core_feature", "Core workflow adopted", "integration", "adoption",
                          31, 60, rule="feature_users:{feature}>={feature_users}",
                          depends=("first_users",)),
        MilestoneTemplate("first_value", "First value measured and agreed", "realization",
                          "value", 61, 75, depends=("integration", "rollout")),
        MilestoneTemplate("exec_review", "Executive value review", "realization", "checkpoint",
                          76, 90, depends=("first_value",), owner="sponsor"),
    )


TEMPLATES: dict[str, Template] = {
    "enterprise": Template("enterprise", (
        "Replace the legacy reporting process across the business units",
        "Integrate the data warehouse and SSO within 45 days",
        "Prove the agreed value to the executive sponsor by day 90"), 10, 40, 15),
    "mid_market": Template("mid_market", (
        "Move the team's reporting onto the product",
        "Connect the main data source within 45 days",
        "Show the first measured saving by day 75"), 5, 15, 6),
    "smb": Template("smb", (
        "Get the team working in the product in the first month",
        "Show the first measured saving by day 75"), 2, 5, 3),
}

#: Contact roles -> the RACI role a new plan proposes (seed 9.1.1.2).
ROLE_RACI = {"executive_sponsor": "accountable", "champion": "responsible",
             "admin": "responsible", "decision_maker": "consulted", "user": "informed"}

#: The required fields of a plan, whose filled share a new plan reports (seed 9.1.1.1).
REQUIRED = ("account", "deal", "deal amount", "owner", "start date", "objectives",
            "executive sponsor", "champion", "milestone owners", "milestone due dates",
            "value metric")

PLAN_FIELDS = ("name", "objectives", "owner", "investment")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _plan(conn: Connection, plan_id: str) -> dict:
    row = conn.execute(sa.select(schema.success_plans).where(
        schema.success_plans.c.plan_id == str(plan_id))).mappings().first()
    if row is None:
        raise PlanError(f"unknown success plan {plan_id!r}")
    return dict(row)


def _bump(conn: Connection, actor: str, plan: dict, action: str, changes: dict,
          before: dict | None = None, after: dict | None = None) -> int:
    """Apply ``changes`` to the plan row with its version + 1, audited."""
    version = int(plan.get("version") or 1) + 1
    sp = schema.success_plans
    conn.execute(sp.update().where(sp.c.plan_id == plan["plan_id"])
                 .values(**changes, version=version))
    old = {k: plan.get(k) for k in changes} | {"version": plan.get("version")}
    audit.record(conn, actor, f"plan.{action}", "success_plans", plan["plan_id"],
                 before if before is not None else old,
                 (after if after is not None else dict(changes)) | {"version": version})
    return version


def core_feature(conn: Connection) -> str | None:
    """The book's most used feature (events in the last 90 days of usage), the one a
    template's feature-adoption milestone asks for; ``None`` without usage rows. With the
    usage kept in the warehouse, the one the last sync found there."""
    push = usage_features.pushed(conn)
    if push is not None:
        return push.core_feature
    last = conn.execute(sa.select(sa.func.max(schema.usage.c.date))).scalar()
    if last is None:
        return None
    row = conn.execute(core_feature_select(last)).first()
    return row[0] if row else None


def core_feature_select(last: dt.date, usage: sa.FromClause = schema.usage) -> sa.Select:
    """The statement of :func:`core_feature` given the last usage day ``last``: the
    feature with the most events in the 90 days up to it (ties by name), one row or
    none. ``usage`` is the store's table or a warehouse's (``greendoor sync``)."""
    u = usage
    return (sa.select(u.c.feature).where(u.c.date > last - dt.timedelta(days=90),
                                         u.c.feature.is_not(None))
            .group_by(u.c.feature).order_by(sa.func.sum(u.c.events).desc(), u.c.feature)
            .limit(1))


def draft(conn: Connection, opportunity: dict, d: dt.date, feature: str | None = None) -> dict:
    """A new plan's rows for a won deal (nothing written): ``{"plan": row, "milestones":
    [...], "stakeholders": [...], "filled": share, "missing": [field ...]}``.

    The template is the account's segment as of ``d``; milestones start at ``d`` (day 1) and
    are owned by the CSM, the champion or the sponsor named by the account's contacts in
    force at ``d``; the stakeholders are those contacts with their proposed RACI role
    (:data:`ROLE_RACI`) and the CSM (vendor, responsible)."""
    acc = conn.execute(sa.select(schema.accounts).where(
        schema.accounts.c.account_id == opportunity["account_id"])).mappings().first()
    now = arr_as_of_query(d + dt.timedelta(days=1)).subquery()
    seg_row = conn.execute(sa.select(now).where(now.c.account_id == acc["account_id"])) \
        .mappings().first()
    arr = float(seg_row["arr"]) if seg_row else float(opportunity.get("amount") or 0)
    given = acc["segment"] in TEMPLATES and acc.get("segment_source") != "derived"
    segment = acc["segment"] if given else segment_from_arr(arr)  # derived: the ARR at d
    tpl = TEMPLATES.get(segment, TEMPLATES["mid_market"])
    plan_id = new_id()
    c = schema.contacts
    contacts = pd.read_sql(sa.select(c).where(
        c.c.account_id == acc["account_id"],
        sa.or_(c.c.started_at.is_(None), c.c.started_at <= d),
        sa.or_(c.c.ended_at.is_(None), c.c.ended_at > d),
        sa.or_(c.c.active.is_(None), c.c.active.is_(True), c.c.ended_at.is_not(None))), conn)
    by_role = {r: contacts[contacts["role"] == r] for r in ROLE_RACI}
    people = {"csm": acc["csm_owner"],
              "champion": by_role["champion"]["name"].iloc[0] if len(by_role["champion"]) else None,
              "sponsor": (by_role["executive_sponsor"]["name"].iloc[0]
                          if len(by_role["executive_sponsor"]) else None)}
    feature = feature or core_feature(conn)
    counts = {"first_users": tpl.first_users, "rollout_users": tpl.rollout_users,
              "feature_users": tpl.feature_users, "feature": feature}
    start = d
    ms = []
    for m in tpl.milestones:
        rule = m.rule.format(**counts) if m.rule and (feature or "{feature}" not in m.rule) \
            else None
        ms.append({"milestone_id": f"{plan_id}-{m.key}", "plan_id": plan_id, "name": m.name,
                   "phase": m.phase, "kind": m.kind,
                   "owner": people.get(m.owner) or people["csm"],
                   "start_date": start + dt.timedelta(days=m.start_day - 1),
                   "due_date": start + dt.timedelta(days=m.due_day - 1), "completed_at": None,
                   "completion_rule": rule,
                   "depends_on": ",".join(f"{plan_id}-{k}" for k in m.depends) or None})
    sh = [{"stakeholder_id": new_id(), "plan_id": plan_id, "contact_id": r["contact_id"],
           "name": r["name"], "title": r.get("title"), "side": "customer",
           "raci": ROLE_RACI[r["role"]], "email": r.get("email")}
          for role in ("executive_sponsor", "champion", "admin", "decision_maker")
          for _, r in by_role[role].head(2).iterrows()]
    if acc["csm_owner"]:
        sh.append({"stakeholder_id": new_id(), "plan_id": plan_id, "contact_id": None,
                   "name": acc["csm_owner"], "title": "Customer Success Manager",
                   "side": "vendor", "raci": "responsible", "email": None})
    plan = {"plan_id": plan_id, "account_id": acc["account_id"],
            "opportunity_id": opportunity.get("opportunity_id"),
            "name": f"{acc['name']} success plan", "template": tpl.segment,
            "objectives": "\n".join(tpl.objectives), "owner": acc["csm_owner"],
            "start_date": start, "status": "draft", "created_at": d, "submitted_at": None,
            "decided_at": None, "approver": None, "decision_note": None, "investment": None,
            "version": 1}
    filled, missing = required_fields(plan, pd.DataFrame(ms), pd.DataFrame(sh), 0,
                                      opportunity.get("amount"))
    return {"plan": plan, "milestones": ms, "stakeholders": sh, "filled": filled,
            "missing": missing}


def required_fields(plan: dict, milestones: pd.DataFrame, stakeholders: pd.DataFrame,
                    n_metrics: int, deal_amount=None) -> tuple[float, list[str]]:
    """The share of :data:`REQUIRED` fields a plan fills and the missing ones: a deal and
    its amount, an owner, objectives, an Accountable customer stakeholder (the sponsor), a
    Responsible one (the champion), an owner and due date on every milestone, and at least
    one value metric."""
    people = stakeholders if len(stakeholders) else pd.DataFrame(columns=["side", "raci"])
    customer = people[people["side"].fillna("customer") == "customer"]
    def given(v) -> bool:
        return v is not None and not (isinstance(v, float) and np.isnan(v)) and \
            str(v).strip() not in ("", "0", "0.0")

    has = {"account": given(plan.get("account_id")), "deal": given(plan.get("opportunity_id")),
           "deal amount": given(deal_amount), "owner": given(plan.get("owner")),
           "start date": given(plan.get("start_date")),
           "objectives": given(plan.get("objectives")),
           "executive sponsor": bool((customer["raci"] == "accountable").any()),
           "champion": bool((customer["raci"] == "responsible").any()),
           "milestone owners": bool(len(milestones)) and bool(milestones["owner"].notna().all()),
           "milestone due dates": bool(len(milestones))
           and bool(milestones["due_date"].notna().all()),
           "value metric": n_metrics > 0}
    missing = [k for k in REQUIRED if not has[k]]
    return 1 - len(missing) / len(REQUIRED), missing


def _insert_draft(conn: Connection, actor: str, dr: dict) -> str:
    conn.execute(schema.success_plans.insert().values(**dr["plan"]))
    if dr["milestones"]:
        conn.execute(schema.milestones.insert(), dr["milestones"])
    if dr["stakeholders"]:
        conn.execute(schema.stakeholders.insert(), dr["stakeholders"])
    audit.record(conn, actor, "plan.create", "success_plans", dr["plan"]["plan_id"], None,
                 dr["plan"] | {"milestones": len(dr["milestones"]),
                               "stakeholders": len(dr["stakeholders"]),
                               "required_filled": round(dr["filled"], 3),
                               "missing": dr["missing"]})
    return dr["plan"]["plan_id"]


def create_from_deal(conn: Connection, actor: str, opportunity_id: str, d: dt.date,
                     feature: str | None = None) -> str | None:
    """Create the plan of a won ``new_business`` or ``expansion`` deal in the caller's
    transaction (audited); ``None`` when the deal already has a plan. Raises
    :class:`PlanError` for an unknown deal, one not won, or a renewal."""
    o = schema.opportunities
    opp = conn.execute(sa.select(o).where(o.c.opportunity_id == str(opportunity_id))) \
        .mappings().first()
    if opp is None:
        raise PlanError(f"unknown opportunity {opportunity_id!r}")
    if opp["status"] != "won" or opp["type"] == "renewal":
        raise PlanError(f"{opportunity_id!r} is a {opp['status']} {opp['type']} deal: a plan "
                        "comes from a won new-business or expansion deal")
    sp = schema.success_plans
    if conn.execute(sa.select(sp.c.plan_id).where(sp.c.opportunity_id == opp["opportunity_id"])
                    ).first():
        return None
    return _insert_draft(conn, actor, draft(conn, dict(opp), d, feature))


def close_deal(engine: Engine, opportunity_id: str, won: bool, actor: Actor = "user",
               on: dt.date | None = None) -> str | None:
    """Close an open deal as won or lost on ``on`` (today): the opportunity's status and
    close date, its history row (source ``action``) and an audit row; a won new-business
    or expansion deal gets its success plan in the same transaction. Returns the new
    plan's id (``None`` when none was made). Raises :class:`PlanError` for an unknown or
    closed deal, :class:`~greendoor.access.AccessDenied` outside the actor's book."""
    o, h = schema.opportunities, schema.opportunity_history
    d = on or dt.date.today()
    with engine.begin() as conn:
        opp = conn.execute(sa.select(o).where(o.c.opportunity_id == str(opportunity_id))) \
            .mappings().first()
        if opp is None:
            raise PlanError(f"unknown opportunity {opportunity_id!r}")
        who = access.authorize(conn, actor, "act", opp["account_id"])
        if opp["status"] != "open":
            raise PlanError(f"{opportunity_id!r} is already {opp['status']}")
        status = "won" if won else "lost"
        values = {"status": status, "close_date": d, "probability": 1.0 if won else 0.0,
                  "stage": "closed_won" if won else "closed_lost",
                  "forecast_category": "commit" if won else "omitted"}
        conn.execute(o.update().where(o.c.opportunity_id == opp["opportunity_id"])
                     .values(**values))
        conn.execute(h.delete().where(h.c.opportunity_id == opp["opportunity_id"],
                                      h.c.valid_from == d))
        conn.execute(h.insert().values(opportunity_id=opp["opportunity_id"], valid_from=d,
                                       stage=values["stage"],
                                       forecast_category=values["forecast_category"],
                                       probability=values["probability"], status=status,
                                       amount=opp["amount"], close_date=d, source="action"))
        audit.record(conn, who, f"deal.{status}", "opportunities", opp["opportunity_id"],
                     {k: opp[k] for k in values}, values)
        if won and opp["type"] != "renewal":
            return create_from_deal(conn, who, opp["opportunity_id"], d)
    return None


def plans_for_won_deals(conn: Connection, d: dt.date, window_days: int, actor: str) -> list[str]:
    """Plans for the new-business and expansion deals won in the ``window_days`` up to ``d``
    that have none (after an import; in the caller's transaction). Returns their ids."""
    o, sp = schema.opportunities, schema.success_plans
    has = sa.select(sp.c.opportunity_id).where(sp.c.opportunity_id.is_not(None))
    accounts_with_plans = sa.select(sp.c.account_id)
    rows = conn.execute(sa.select(o.c.opportunity_id, o.c.close_date).where(
        o.c.status == "won", o.c.type.in_(["new_business", "expansion"]),
        o.c.close_date > d - dt.timedelta(days=window_days), o.c.close_date <= d,
        o.c.opportunity_id.not_in(has), o.c.account_id.not_in(accounts_with_plans))
        .order_by(o.c.close_date, o.c.opportunity_id)).all()
    feature = core_feature(conn) if rows else None
    return [p for oid, closed in rows
            if (p := create_from_deal(conn, actor, oid, closed, feature))]


# --------------------------------------------------------------------------- #
# edits
# --------------------------------------------------------------------------- #
def _editable(conn: Connection, actor: Actor, plan_id: str) -> tuple[str, dict]:
    plan = _plan(conn, plan_id)
    who = access.authorize(conn, actor, "act", plan["account_id"])
    return who, plan


def save_stakeholders(engine: Engine, plan_id: str, rows: pd.DataFrame,
                      actor: Actor = "user") -> int:
    """Replace a plan's stakeholders with ``rows`` (``name, title, side, raci, email,
    contact_id``; ids kept where given). Refused (:class:`PlanError`, nothing written)
    unless :func:`greendoor.onboarding.raci_problems` finds nothing. Returns the new
    version."""
    rows = rows.copy()
    rows["raci"] = rows["raci"].fillna("").astype(str).str.lower().str.strip()
    problems = onboarding.raci_problems(rows)
    if problems:
        raise PlanError("the RACI does not cover the plan: " + "; ".join(problems))
    st = schema.stakeholders
    with engine.begin() as conn:
        who, plan = _editable(conn, actor, plan_id)
        before = pd.read_sql(sa.select(st).where(st.c.plan_id == plan["plan_id"]), conn)
        conn.execute(st.delete().where(st.c.plan_id == plan["plan_id"]))
        new = []
        for r in rows.to_dict("records"):
            sid = r.get("stakeholder_id")
            new.append({"stakeholder_id": sid if isinstance(sid, str) and sid else new_id(),
                        "plan_id": plan["plan_id"], "name": str(r["name"]).strip(),
                        **{k: (None if pd.isna(r.get(k)) or r.get(k) == "" else str(r[k]))
                           for k in ("contact_id", "title", "side", "email")},
                        "raci": r["raci"]})
        conn.execute(st.insert(), new)
        keep = ["name", "title", "side", "raci"]
        return _bump(conn, who, plan, "stakeholders", {},
                     {"stakeholders": before[keep].to_dict("records")},
                     {"stakeholders": [{k: r.get(k) for k in keep} for r in new]})


def save_plan(engine: Engine, plan_id: str, changes: dict, actor: Actor = "user") -> int:
    """Change a plan's ``name``, ``objectives``, ``owner`` or ``investment``; a submitted
    or decided plan goes back to draft (it must be approved again). Returns the version."""
    bad = set(changes) - set(PLAN_FIELDS)
    if bad:
        raise PlanError(f"not editable: {', '.join(sorted(bad))}")
    if "investment" in changes and changes["investment"] is not None:
        try:
            changes["investment"] = float(changes["investment"])
        except (TypeError, ValueError) as exc:
            raise PlanError(f"investment is not a number: {changes['investment']!r}") from exc
        if not 0 <= changes["investment"] < 1e10:
            raise PlanError("investment must be 0 or more")
    with engine.begin() as conn:
        who, plan = _editable(conn, actor, plan_id)
        diff = {k: v for k, v in changes.items() if plan.get(k) != v}
        if not diff:
            return int(plan.get("version") or 1)
        if plan["status"] in ("submitted", "approved", "rejected"):
            diff |= {"status": "draft", "submitted_at": None, "decided_at": None}
        return _bump(conn, who, plan, "edit", diff)


def submit(engine: Engine, plan_id: str, actor: Actor = "user", at: dt.datetime | None = None
           ) -> int:
    """Submit a draft (or rejected) plan for approval; refused while its RACI does not
    cover it. The approval SLA runs from ``at`` (now)."""
    with engine.begin() as conn:
        who, plan = _editable(conn, actor, plan_id)
        if plan["status"] not in ("draft", "rejected"):
            raise PlanError(f"the plan is {plan['status']}; only a draft or rejected plan is "
                            "submitted")
        st = schema.stakeholders
        problems = onboarding.raci_problems(pd.read_sql(
            sa.select(st).where(st.c.plan_id == plan["plan_id"]), conn))
        if problems:
            raise PlanError("the RACI does not cover the plan: " + "; ".join(problems))
        return _bump(conn, who, plan, "submit", {"status": "submitted",
                                                 "submitted_at": at or _now(),
                                                 "decided_at": None, "approver": None})


def decide(engine: Engine, plan_id: str, approve: bool, note: str | None = None,
           actor: Actor = "user", at: dt.datetime | None = None) -> int:
    """Approve or reject a submitted plan (a manager or an admin; a rejection needs a
    note). Returns the new version."""
    if isinstance(actor, access.Principal):
        access.require(actor, "approve")
    if not approve and not (note or "").strip():
        raise PlanError("a rejection needs a note saying what to change")
    with engine.begin() as conn:
        who, plan = _editable(conn, actor, plan_id)
        if plan["status"] != "submitted":
            raise PlanError(f"the plan is {plan['status']}; only a submitted plan is decided")
        return _bump(conn, who, plan, "approve" if approve else "reject",
                     {"status": "approved" if approve else "rejected",
                      "decided_at": at or _now(), "approver": who,
                      "decision_note": (note or "").strip() or None})


def complete_milestone(engine: Engine, milestone_id: str, on: dt.date | None = None,
                       actor: Actor = "user") -> int:
    """Mark a manual milestone done on ``on`` (today). Returns the plan's new version."""
    m = schema.milestones
    d = on or dt.date.today()
    with engine.begin() as conn:
        ms = conn.execute(sa.select(m).where(m.c.milestone_id == str(milestone_id))) \
            .mappings().first()
        if ms is None:
            raise PlanError(f"unknown milestone {milestone_id!r}")
        who, plan = _editable(conn, actor, ms["plan_id"])
        if ms["completed_at"] is not None:
            raise PlanError(f"{ms['name']!r} was completed on {ms['completed_at']}")
        conn.execute(m.update().where(m.c.milestone_id == ms["milestone_id"])
                     .values(completed_at=d))
        return _bump(conn, who, plan, "milestone", {},
                     {"milestone": ms["name"], "completed_at": None},
                     {"milestone": ms["name"], "completed_at": d})


def add_value_metric(engine: Engine, plan_id: str, metric: dict, actor: Actor = "user") -> str:
    """Add a value metric to a plan: ``name, unit, direction (increase | decrease),
    baseline, target, target_date, value_per_unit`` (money per unit of improvement per
    year) and optionally ``value_per_unit_low``/``_high``. Returns its id."""
    row = {"metric_id": new_id(), "plan_id": str(plan_id)}
    name = str(metric.get("name") or "").strip()
    if not name:
        raise PlanError("a value metric needs a name")
    direction = metric.get("direction") or "increase"
    if direction not in ("increase", "decrease"):
        raise PlanError(f"direction {direction!r}: increase or decrease")
    nums = {}
    for k in ("baseline", "target", "value_per_unit", "value_per_unit_low",
              "value_per_unit_high"):
        v = metric.get(k)
        if v is None or v == "":
            if k in ("baseline", "target", "value_per_unit"):
                raise PlanError(f"{k.replace('_', ' ')} is required")
            nums[k] = None
            continue
        try:
            nums[k] = float(v)
        except (TypeError, ValueError) as exc:
            raise PlanError(f"{k.replace('_', ' ')} is not a number: {v!r}") from exc
        if not np.isfinite(nums[k]):
            raise PlanError(f"{k.replace('_', ' ')} is not a finite number")
    if nums["value_per_unit"] < 0:
        raise PlanError("value per unit must be 0 or more")
    lo, hi = nums["value_per_unit_low"], nums["value_per_unit_high"]
    if (lo is not None and lo > nums["value_per_unit"]) or \
            (hi is not None and hi < nums["value_per_unit"]):
        raise PlanError("the range must hold the value per unit (low <= value <= high)")
    row |= {"name": name, "unit": metric.get("unit"), "direction": direction, **nums,
            "target_date": metric.get("target_date")}
    with engine.begin() as conn:
        who, plan = _editable(conn, actor, plan_id)
        conn.execute(schema.value_metrics.insert().values(**row))
        _bump(conn, who, plan, "value_metric", {}, {}, {"value_metric": row})
    return row["metric_id"]


def record_measurement(engine: Engine, metric_id: str, value: float, on: dt.date,
                       actor: Actor = "user") -> str:
    """Record a value metric's measurement on ``on``. Returns its id."""
    try:
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"the measurement is not a number: {value!r}") from exc
    vm = schema.value_metrics
    with engine.begin() as conn:
        met = conn.execute(sa.select(vm).where(vm.c.metric_id == str(metric_id))) \
            .mappings().first()
        if met is None:
            raise PlanError(f"unknown value metric {metric_id!r}")
        who, plan = _editable(conn, actor, met["plan_id"])
        mid = new_id()
        conn.execute(schema.value_measurements.insert().values(
            measurement_id=mid, metric_id=met["metric_id"], measured_at=on, value=value))
        audit.record(conn, who, "plan.measurement", "value_measurements", mid, None,
                     {"metric": met["name"], "measured_at": on, "value": value,
                      "plan_id": plan["plan_id"]})
    return mid


# --------------------------------------------------------------------------- #
# reads at a date
# --------------------------------------------------------------------------- #
def has_plans(conn: Connection) -> bool:
    """Whether the store holds any success plan."""
    return conn.execute(sa.select(sa.literal(1)).select_from(schema.success_plans)
                        .limit(1)).first() is not None


def plans_as_of(conn: Connection, d: dt.date, account_ids=None) -> pd.DataFrame:
    """Plans known at ``d`` (created on or before it; without a creation date, started on
    or before it), with ``approval`` as it stood at ``d``'s end: approved / rejected from
    the decision instant, submitted from the submission, else draft (a completed or
    cancelled plan keeps its status). Columns of ``success_plans`` plus ``approval``."""
    sp = schema.success_plans
    q = sa.select(sp).where(sa.func.coalesce(sp.c.created_at, sp.c.start_date) <= d)
    if account_ids is not None:
        q = q.where(sp.c.account_id.in_(list(account_ids)))
    df = pd.read_sql(q, conn)
    end = pd.Timestamp(d) + pd.Timedelta(days=1)
    dec = pd.to_datetime(df["decided_at"])
    sub = pd.to_datetime(df["submitted_at"])
    final = df["status"].isin(["completed", "cancelled"])
    decided = dec.notna() & (dec < end) & df["status"].isin(["approved", "rejected"])
    dated = dec.notna() | sub.notna()
    df["approval"] = np.select(
        [final, decided, sub.notna() & (sub < end), dated],
        [df["status"], df["status"], "submitted", "draft"], default=df["status"])
    df["start_date"] = pd.to_datetime(df["start_date"])
    return df


def first_uses_select(plans: sa.FromClause, usage: sa.FromClause = schema.usage,
                      until: dt.date | None = None) -> sa.Select:
    """Per plan, user and feature, the first day of use on or after the plan's start (up
    to ``until`` inclusive when given): ``plan_id, user_id, feature, first``. ``plans``
    is any table with ``plan_id, account_id, start_date`` and ``usage`` any with the
    usage columns: the store's, or a warehouse's (``greendoor sync`` runs it there)."""
    u = usage
    q = (sa.select(plans.c.plan_id, u.c.user_id, u.c.feature, sa.func.min(u.c.date).label("first"))
         .select_from(plans.join(u, u.c.account_id == plans.c.account_id))
         .where(u.c.date >= plans.c.start_date, u.c.user_id.is_not(None))
         .group_by(plans.c.plan_id, u.c.user_id, u.c.feature))
    return q if until is None else q.where(u.c.date <= until)


def _first_users(conn: Connection, plans: pd.DataFrame, d: dt.date) -> pd.DataFrame:
    """Per plan, user and feature: the first day of use since the plan's start, up to
    ``d``: ``plan_id, user_id, feature, first``."""
    if plans.empty:
        return pd.DataFrame(columns=["plan_id", "user_id", "feature", "first"])
    if usage_features.pushed(conn) is not None:  # computed on the warehouse by the sync
        out = usage_features.first_uses(conn, plans["plan_id"], d)
        out["first"] = pd.to_datetime(out["first"])
        return out
    sp = schema.success_plans
    q = first_uses_select(sp, until=d).where(sp.c.plan_id.in_(list(plans["plan_id"])))
    out = pd.read_sql(q, conn)
    out["first"] = pd.to_datetime(out["first"])
    return out


class RuleDays:
    """The days each plan's users first used the product (or a feature) since its start,
    from :func:`_first_users` rows, sorted, for :meth:`met_on` look-ups."""

    def __init__(self, first: pd.DataFrame):
        self.any = self._sorted_days(first, ["plan_id"])
        self.by_feature = self._sorted_days(first, ["plan_id", "feature"])

    @staticmethod
    def _sorted_days(first: pd.DataFrame, keys: list[str]) -> dict:
        """Per value of ``keys`` (a tuple for two), each user's first day there, sorted:
        one sort and a split, instead of a Python loop over pandas groups (about 0.1 s
        for 1,100 plans at bench tier S)."""
        per_user = first.dropna(subset=[*keys, "user_id"]) \
            .groupby([*keys, "user_id"], sort=False)["first"].min().reset_index() \
            .sort_values([*keys, "first"], kind="stable")
        if per_user.empty:
            return {}
        cols = [per_user[k].to_numpy() for k in keys]
        same = np.zeros(len(per_user), dtype=bool)  # the row's keys are the previous row's
        same[1:] = True
        for c in cols:
            same[1:] &= c[1:] == c[:-1]
        starts = np.flatnonzero(~same)
        names = cols[0][starts] if len(keys) == 1 else \
            list(zip(*(c[starts] for c in cols), strict=True))
        return dict(zip(names, np.split(per_user["first"].to_numpy(), starts[1:]),
                        strict=True))

    def met_on(self, plan_id: str, rule) -> pd.Timestamp | None:
        """The day a usage rule was first met (the n-th distinct user's first day);
        ``None`` when not met or for a manual milestone. Raises ``ValueError`` for a rule
        :func:`greendoor.onboarding.parse_rule` does not read."""
        parsed = onboarding.parse_rule(rule)
        if parsed is None:
            return None
        _, feature, n = parsed
        days = self.any.get(plan_id) if feature is None else \
            self.by_feature.get((plan_id, feature))
        return pd.Timestamp(days[n - 1]) if days is not None and len(days) >= n else None


def milestones_as_of(conn: Connection, d: dt.date, plans: pd.DataFrame) -> pd.DataFrame:
    """The milestones of ``plans`` (from :func:`plans_as_of`) as known at ``d``:
    ``done_on`` is the manual completion when on or before ``d``, else the day the usage
    rule was met by ``d`` (NaT when open); ``days_late`` is how far an open milestone is past
    its due date at ``d`` (0 when not due), ``auto`` whether a rule completes it."""
    m = schema.milestones
    if plans.empty:
        ms = pd.read_sql(sa.select(m).where(sa.false()), conn)
    else:
        ms = pd.read_sql(sa.select(m).where(m.c.plan_id.in_(list(plans["plan_id"]))), conn)
    for c in ("start_date", "due_date", "completed_at"):
        ms[c] = pd.to_datetime(ms[c])
    t = pd.Timestamp(d)
    manual = ms["completed_at"].where(ms["completed_at"] <= t)
    ruled = ms["completion_rule"].notna() & (ms["completion_rule"].astype(str).str.strip() != "")
    days = RuleDays(_first_users(conn, plans[plans["plan_id"].isin(ms.loc[ruled, "plan_id"])],
                                 d)) if ruled.any() else None
    auto = pd.Series(pd.NaT, index=ms.index, dtype="datetime64[ns]")
    for i, plan_id, rule in zip(ms.index[ruled], ms.loc[ruled, "plan_id"],
                                ms.loc[ruled, "completion_rule"], strict=True):
        try:
            hit = days.met_on(plan_id, rule)
        except ValueError:  # an unreadable rule completes nothing (the import refuses it)
            hit = None
        if hit is not None:
            auto[i] = hit
    ms["auto"] = ruled
    ms["done_on"] = manual.fillna(auto) if len(ms) else manual
    open_ = ms["done_on"].isna()
    ms["days_late"] = np.where(open_ & (ms["due_date"] < t), (t - ms["due_date"]).dt.days, 0)
    return ms


def progress(conn: Connection, d: dt.date, behind_days: int = 7, stuck_days: int = 21,
             plans: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per plan known at ``d``: ``plan_id, account_id, start_date, day`` (day of the
    plan, 1 = start), ``phase, milestones, done, done_share, days_behind`` (the most
    overdue open milestone's days past due), ``status`` (:func:`greendoor.onboarding.status`),
    ``next_milestone, next_due, time_to_first_value, time_to_value`` (days from the start
    to the first done adoption-or-value / value milestone; NaN until then)."""
    plans = plans_as_of(conn, d) if plans is None else plans
    ms = milestones_as_of(conn, d, plans)
    cols = ["plan_id", "account_id", "start_date", "day", "phase", "milestones", "done",
            "done_share", "days_behind", "status", "next_milestone", "next_due",
            "time_to_first_value", "time_to_value"]
    if plans.empty:
        return pd.DataFrame(columns=cols)
    g = ms.groupby("plan_id")
    agg = pd.DataFrame({"milestones": g.size(), "done": g["done_on"].count(),
                        "days_behind": g["days_late"].max()})
    start = plans.set_index("plan_id")["start_date"]
    ms["start"] = ms["plan_id"].map(start)
    ms["days_in"] = (ms["done_on"] - ms["start"]).dt.days

    def first_done(kinds):
        s = ms[ms["kind"].isin(kinds) & ms["done_on"].notna()]
        return s.groupby("plan_id")["days_in"].min()

    nxt = ms[ms["done_on"].isna()].sort_values(["due_date", "milestone_id"]) \
        .drop_duplicates("plan_id").set_index("plan_id")
    out = plans[["plan_id", "account_id", "start_date"]].set_index("plan_id").join(agg)
    out[["milestones", "done", "days_behind"]] = out[["milestones", "done",
                                                      "days_behind"]].fillna(0)
    out["day"] = (pd.Timestamp(d) - out["start_date"]).dt.days + 1
    out["phase"] = [onboarding.phase_of(s.date(), d) for s in out["start_date"]]
    out["done_share"] = out["done"] / out["milestones"].where(out["milestones"] > 0)
    out["status"] = [onboarding.status(b, dn, n, behind_days, stuck_days)
                     for b, dn, n in zip(out["days_behind"], out["done"], out["milestones"],
                                         strict=True)]
    out["next_milestone"] = nxt["name"].reindex(out.index)
    out["next_due"] = nxt["due_date"].reindex(out.index)
    out["time_to_first_value"] = first_done(["adoption", "value"]).reindex(out.index)
    out["time_to_value"] = first_done(["value"]).reindex(out.index)
    return out.reset_index()[cols]


def value_as_of(conn: Connection, d: dt.date, plans: pd.DataFrame) -> pd.DataFrame:
    """Each value metric of ``plans`` at ``d``: ``metric_id, plan_id, name, unit,
    direction, baseline, target, target_date, value_per_unit(_low/_high), latest, measured_at``
    (the latest measurement on or before ``d``), ``gain`` (units of improvement on the
    baseline, signed), ``planned_gain`` (the trajectory's improvement at ``d``: linear from
    the plan's start to the target date, day 90 without one), ``benefit`` (gain x value per
    unit: money per year) and ``planned_benefit``."""
    vm, mm = schema.value_metrics, schema.value_measurements
    ids = list(plans["plan_id"]) if len(plans) else []
    met = pd.read_sql(sa.select(vm).where(vm.c.plan_id.in_(ids)), conn)
    meas = pd.read_sql(sa.select(mm).where(mm.c.metric_id.in_(list(met["metric_id"])),
                                           mm.c.measured_at <= d), conn)
    last = (meas.sort_values(["measured_at", "measurement_id"])
            .drop_duplicates("metric_id", keep="last").set_index("metric_id"))
    met["latest"] = met["metric_id"].map(last["value"]) if len(last) else np.nan
    met["measured_at"] = pd.to_datetime(met["metric_id"].map(last["measured_at"])) \
        if len(last) else pd.NaT
    start = plans.set_index("plan_id")["start_date"] if len(plans) else pd.Series(dtype=object)
    gains, plan_gains = [], []
    for r in met.itertuples():
        s = pd.Timestamp(start[r.plan_id]).date()
        td = pd.Timestamp(r.target_date).date() if pd.notna(r.target_date) else \
            s + dt.timedelta(days=89)
        sign = -1.0 if r.direction == "decrease" else 1.0
        plan_v = onboarding.planned(r.baseline, r.target, s, td, d)
        plan_gains.append(sign * (plan_v - r.baseline))
        gains.append(onboarding.improvement(r.baseline, r.latest, r.direction)
                     if pd.notna(r.latest) else np.nan)
    met["gain"] = np.array(gains, dtype=float)
    met["planned_gain"] = np.array(plan_gains, dtype=float)
    met["benefit"] = met["gain"] * met["value_per_unit"]
    met["planned_benefit"] = met["planned_gain"] * met["value_per_unit"]
    return met


def onboarding_features(conn: Connection, d: dt.date, settings: dict) -> pd.DataFrame:
    """Model features and health measures from the plans (issue 20), per account with a
    plan started within ``onboarding.feature_window_days`` before ``d``: ``account_id,
    onboarding_days_behind`` (the most overdue open milestone's days), ``onboarding_stuck``
    (1/0) and ``time_to_value_days`` (days to the first value milestone; while none is
    done and the plan is past day 90, the days so far: at least that long). Empty without
    plans."""
    cols = ["account_id", "onboarding_days_behind", "onboarding_stuck", "time_to_value_days"]
    if not has_plans(conn):
        return pd.DataFrame(columns=cols)
    cfg = settings["onboarding"]
    plans = plans_as_of(conn, d)
    plans = plans[(pd.Timestamp(d) - plans["start_date"]).dt.days
                  .between(0, cfg["feature_window_days"])]
    if plans.empty:
        return pd.DataFrame(columns=cols)
    p = progress(conn, d, cfg["behind_days"], cfg["stuck_days"], plans=plans)
    p = p.sort_values("start_date").drop_duplicates("account_id", keep="last")
    ttv = p["time_to_value"].where(p["time_to_value"].notna(),
                                   (p["day"] - 1).where(p["day"] > 90))
    return pd.DataFrame({"account_id": p["account_id"],
                         "onboarding_days_behind": p["days_behind"].astype(float),
                         "onboarding_stuck": (p["status"] == "stuck").astype(float),
                         "time_to_value_days": ttv.astype(float)})
