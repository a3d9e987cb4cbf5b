"""Automation rules as data (issue 19): a condition on each account's scores and an action
(create a task, start a playbook, or raise an alert), run after each scoring.

A rule is ``{"name", "conditions": [{"field", "op", "value"}, ...], "action": {...},
"period_days", "enabled"}``; every condition must hold (AND). Fields are the columns of
:data:`FIELDS` (the latest score snapshot, plus the account's open playbooks and live
alerts); ``op`` one of :data:`OPS`. Actions: ``{"type": "task", "title", "due_days"}``
or ``{"type": "playbook", "playbook"}``, owned by the account's CSM, or
``{"type": "alert", "severity", "title"}``: an alert in the inbox under the rule key
``automation:<rule id>``, with the life of every alert (one per account, raised again at
each scoring while the condition holds and updated in place, kept quiet once snoozed,
resolved or marked false positive; see :func:`greendoor.scoring.run.write_alerts`).

**Idempotent.** A rule fires at most once per account and period (``period_days`` long,
counted from a fixed origin): :func:`run` records each firing in ``automation_firings``
in the same transaction as the action it creates, so a second scoring in the same period
creates nothing. Every edit of a rule is a new version (audited), and each firing keeps
the version that fired.

**Preview.** :func:`preview` says how many accounts the rule matches now and how many it
would have matched a quarter ago, with their churn rate in the quarter after against
every account's: what the rule would have caught.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import operator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import actions as A
from greendoor import audit, state
from greendoor.access import Actor, actor_name
from greendoor.analytics.portfolio_health import scores, snapshot_date
from greendoor.periods import Filters
from greendoor.playbooks import PLAYBOOKS
from greendoor.rules import AUTOMATION_ALERT, LIVE_ALERT
from greendoor.scoring.labels import churn_labels
from greendoor.store import schema
from greendoor.store.engine import new_id

#: What a condition may test, and its kind (numbers compare, text and flags are equal or not).
FIELDS = {"health_score": "number", "churn_probability": "number", "risk_index": "number",
          "renewal_probability": "number", "expansion_probability": "number",
          "days_to_renewal": "number", "arr": "number", "open_alerts": "number",
          "band": "text", "trend": "text", "segment": "text", "has_open_playbook": "flag"}
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "==": operator.eq, "!=": operator.ne}
#: Days back of the preview's "a quarter ago", and the horizon of its churn rate.
PREVIEW_DAYS = 90
ACTIONS = ("task", "playbook", "alert")
SEVERITIES = ("critical", "warning", "info")


class AutomationError(ValueError):
    """A rule is invalid; the message names the part, the value and the rule broken."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """A checked automation rule (see the module docstring)."""

    name: str
    conditions: tuple[dict, ...]
    action: dict
    period_days: int = 90
    enabled: bool = True
    rule_id: str | None = None
    version: int = 0


def check(rule: dict) -> Rule:
    """The :class:`Rule` of ``rule`` (a dict as stored or entered), or
    :class:`AutomationError` naming each problem: an unknown field or operator, a value of
    the wrong type, an unknown action or playbook, a period out of range."""
    errs: list[str] = []
    name = str(rule.get("name") or "").strip()
    if not name:
        errs.append("name: a rule needs a name")
    conds = list(rule.get("conditions") or [])
    if not conds:
        errs.append("conditions: at least one condition is needed")
    clean = [c for c in (_condition(i, c, errs) for i, c in enumerate(conds, start=1)) if c]
    action = _action(dict(rule.get("action") or {}), errs)
    try:
        period = int(rule.get("period_days", 90))
        if not 1 <= period <= 366:
            raise ValueError
    except (TypeError, ValueError):
        errs.append(f"period_days: {rule.get('period_days')!r} is not 1-366 days")
        period = 90
    if errs:
        raise AutomationError("invalid automation rule:\n- " + "\n- ".join(errs))
    return Rule(name=name, conditions=tuple(clean), action=action, period_days=period,
                enabled=bool(rule.get("enabled", True)), rule_id=rule.get("rule_id"),
                version=int(rule.get("version") or 0))


def _condition(i: int, c: dict, errs: list[str]) -> dict | None:
    field, op, value = c.get("field"), c.get("op"), c.get("value")
    kind = FIELDS.get(field)
    if kind is None:
        errs.append(f"condition {i}: unknown field {field!r}; one of {', '.join(FIELDS)}")
        return None
    allowed = list(OPS) if kind == "number" else ["==", "!="]
    if op not in allowed:
        errs.append(f"condition {i} ({field}): operator {op!r} is not one of "
                    f"{', '.join(allowed)}")
        return None
    try:
        return {"field": field, "op": op, "value": _typed(kind, value)}
    except (TypeError, ValueError):
        errs.append(f"condition {i} ({field}): {value!r} is not a {kind}")
        return None


def _action(action: dict, errs: list[str]) -> dict:
    kind = action.get("type")
    if kind not in ACTIONS:
        errs.append(f"action: type {kind!r} is not one of {', '.join(ACTIONS)}")
    elif kind == "playbook" and action.get("playbook") not in PLAYBOOKS:
        errs.append(f"action: unknown playbook {action.get('playbook')!r}; one of "
                    f"{', '.join(PLAYBOOKS)}")
    elif kind == "task":
        if not str(action.get("title") or "").strip():
            errs.append("action: a task needs a title")
        try:
            action["due_days"] = int(action.get("due_days", 7))
            if not 0 <= action["due_days"] <= 365:
                raise ValueError
        except (TypeError, ValueError):
            errs.append(f"action: due_days {action.get('due_days')!r} is not 0-365 days")
    elif kind == "alert":
        if not str(action.get("title") or "").strip():
            errs.append("action: an alert needs a title")
        action.setdefault("severity", "warning")
        if action["severity"] not in SEVERITIES:
            errs.append(f"action: alert severity {action['severity']!r} is not one of "
                        f"{', '.join(SEVERITIES)}")
    return action


def alert_rule_key(rule_id: str) -> str:
    """The ``alerts.rule`` of the alerts an automation rule raises."""
    return AUTOMATION_ALERT + str(rule_id)


def _typed(kind: str, value):
    if kind == "number":
        if isinstance(value, bool) or value is None or str(value).strip() == "":
            raise ValueError(value)
        return float(value)
    if kind == "flag":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError(value)
        return text in ("true", "yes", "1")
    text = str(value).strip()
    if not text:
        raise ValueError(value)
    return text


def accounts_frame(conn: Connection, as_of: dt.date) -> pd.DataFrame:
    """The fields of :data:`FIELDS` per account from the latest scoring on or before
    ``as_of`` (index: ``account_id``; also ``name`` and ``csm_owner``)."""
    df = scores(conn, Filters(as_of=as_of))
    if df.empty:
        return df
    t, al = schema.actions, schema.alerts
    runs = {r[0] for r in conn.execute(sa.select(t.c.account_id).where(
        t.c.type == "playbook_run", t.c.status == "open"))}
    live = pd.read_sql(sa.select(al.c.account_id, sa.func.count().label("n"))
                       .where(al.c.status.in_(LIVE_ALERT)).group_by(al.c.account_id), conn)
    df["has_open_playbook"] = df["account_id"].isin(runs)
    df["open_alerts"] = df["account_id"].map(live.set_index("account_id")["n"]).fillna(0)
    return df.set_index("account_id")


def matches(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """Whether each account of ``frame`` meets every condition (a missing value never
    does)."""
    ok = pd.Series(True, index=frame.index)
    for c in rule.conditions:
        col = frame[c["field"]]
        ok &= col.notna() & OPS[c["op"]](col, c["value"]).fillna(False).astype(bool)
    return ok


def preview(conn: Connection, rule: dict, as_of: dt.date) -> dict:
    """``now``: accounts the rule matches at ``as_of``; ``then``: those it matched at the
    scoring :data:`PREVIEW_DAYS` days earlier, ``churn_rate`` among them in the
    :data:`PREVIEW_DAYS` days after, and ``base_rate`` over every account scored then
    (NaN when there was no scoring then). Raises :class:`AutomationError`."""
    r = check(rule)
    now = accounts_frame(conn, as_of)
    out = {"now": int(matches(now, r).sum()) if len(now) else 0, "then": 0,
           "churn_rate": float("nan"), "base_rate": float("nan"), "then_date": None}
    past = snapshot_date(conn, as_of - dt.timedelta(days=PREVIEW_DAYS))
    if past is None:
        return out
    then = accounts_frame(conn, past)
    hit = matches(then, r)
    y = churn_labels(conn, past, PREVIEW_DAYS)
    out.update(then=int(hit.sum()), then_date=past, base_rate=float(y.mean()) if len(y) else
               float("nan"))
    caught = y.reindex(hit[hit].index).dropna()
    out["churn_rate"] = float(caught.mean()) if len(caught) else float("nan")
    return out


def save(engine: Engine, rule: dict, actor: Actor) -> str:
    """Create (no ``rule_id``) or edit a rule, checked, as a new version with an audit row
    (``automation.save``: before and after). Managers and admins only
    (:class:`~greendoor.access.AccessDenied` otherwise). Returns the rule id."""
    r = check(rule)
    ar = schema.automation_rules
    body = {"name": r.name, "conditions_json": json.dumps(list(r.conditions)),
            "action_json": json.dumps(r.action), "period_days": r.period_days,
            "enabled": r.enabled}
    with engine.begin() as conn:
        who = actor_name(actor, "reassign")
        old = conn.execute(sa.select(ar).where(ar.c.rule_id == r.rule_id)).mappings().first() \
            if r.rule_id else None
        rid = r.rule_id or new_id()
        row = {**body, "version": (old["version"] + 1) if old else 1, "created_by": who,
               "updated_at": _now()}
        if old:
            conn.execute(ar.update().where(ar.c.rule_id == rid).values(**row))
        else:
            conn.execute(ar.insert().values(rule_id=rid, **row))
        audit.record(conn, who, "automation.save", "automation_rules", rid,
                     before=_public(old) if old else None, after={**body, "version": row["version"]})
    return rid


def rules(conn: Connection) -> list[Rule]:
    """Every stored rule, by name."""
    ar = schema.automation_rules
    out = []
    for row in conn.execute(sa.select(ar).order_by(ar.c.name)).mappings():
        out.append(Rule(name=row["name"], conditions=tuple(json.loads(row["conditions_json"])),
                        action=json.loads(row["action_json"]), period_days=row["period_days"],
                        enabled=bool(row["enabled"]), rule_id=row["rule_id"],
                        version=row["version"]))
    return out


def run(engine: Engine, as_of: dt.date, today: dt.date | None = None) -> dict[str, int]:
    """Fire every enabled rule on the scoring of ``as_of``: for each matching account
    without a firing of the rule in this period, the action and its firing row, one
    transaction per rule (actor ``automation``, the rule's version in the action's
    payload). An alert rule also makes its alerts of ``as_of`` exactly the matching
    accounts (a disabled one: none). Returns ``{rule name: actions or alerts created}``."""
    today = today or dt.date.today()
    created: dict[str, int] = {}
    fr = schema.automation_firings
    with engine.connect() as conn:
        every = rules(conn)
        active = [r for r in every if r.enabled]
        frame = accounts_frame(conn, as_of) if active else pd.DataFrame()
    accounts_ = schema.accounts
    for r in every:
        period = as_of.toordinal() // r.period_days
        hit = frame.index[matches(frame, r)] if r.enabled and not frame.empty else []
        if r.action["type"] != "alert" and not len(hit):
            continue
        with engine.begin() as conn:
            if r.action["type"] == "alert":
                rows = frame.loc[hit] if len(hit) else pd.DataFrame(columns=["arr"])
                alert_ids = _raise_alerts(conn, r, rows, as_of)
            done = {row[0] for row in conn.execute(sa.select(fr.c.account_id).where(
                fr.c.rule_id == r.rule_id, fr.c.period == period))}
            todo = [a for a in hit if a not in done]
            accs = {row["account_id"]: dict(row) for row in conn.execute(
                sa.select(accounts_).where(accounts_.c.account_id.in_(todo))).mappings()} \
                if todo else {}
            for aid in todo:
                action_id = (alert_ids.get(aid) if r.action["type"] == "alert"
                             else _fire(conn, r, accs[aid], today))
                conn.execute(fr.insert().values(rule_id=r.rule_id, account_id=aid, period=period,
                                                rule_version=r.version, action_id=action_id,
                                                as_of=as_of, fired_at=_now()))
        if r.enabled:
            created[r.name] = len(todo)
    return created


def _raise_alerts(conn: Connection, r: Rule, hit: pd.DataFrame, as_of: dt.date) -> dict:
    """Make ``hit`` (rows of :func:`accounts_frame`) the alerts of ``as_of`` of rule ``r``;
    returns ``{account id: alert id}`` of its live alerts then."""
    from greendoor.scoring.run import write_alerts  # (the scoring imports this module)

    key = alert_rule_key(r.rule_id)
    why = {"automation_rule": r.rule_id, "rule_version": r.version, "rule_name": r.name,
           "conditions": list(r.conditions)}
    al = pd.DataFrame({"account_id": hit.index.astype(object), "rule": key,
                       "severity": r.action["severity"],
                       "title": str(r.action["title"]).strip()[:200],
                       "evidence": [{**why, "arr": float(a) if pd.notna(a) else None}
                                    for a in hit["arr"]]},
                      columns=["account_id", "rule", "severity", "title", "evidence"])
    write_alerts(conn, al, as_of, scope=(key,))
    t = schema.alerts
    return {row[0]: row[1] for row in conn.execute(
        sa.select(t.c.account_id, t.c.alert_id).where(t.c.rule == key, t.c.as_of == as_of,
                                                      t.c.status.in_(LIVE_ALERT)))}


def _fire(conn: Connection, r: Rule, acc: dict, today: dt.date) -> str:
    owner = acc.get("csm_owner") or "unassigned"
    why = {"automation_rule": r.rule_id, "rule_version": r.version, "rule_name": r.name}
    if r.action["type"] == "task":
        return A.add_task(conn, "automation", acc, str(r.action["title"]).strip()[:200], owner,
                          today + dt.timedelta(days=int(r.action["due_days"])), "other",
                          note=f"Created by the automation rule {r.name!r} (version "
                               f"{r.version})", payload=why)
    pb = r.action["playbook"]
    base = today
    if PLAYBOOKS[pb].relative_to == "renewal":
        nxt = state.next_renewals(conn, today).set_index("account_id")["next_renewal"]
        when = nxt.get(acc["account_id"])
        base = when.date() if when is not None and pd.notna(when) else today
    return A.add_playbook_run(conn, "automation", acc, pb, today, base, owner)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _public(row) -> dict:
    return {k: row[k] for k in ("name", "conditions_json", "action_json", "period_days",
                                "enabled", "version")}
