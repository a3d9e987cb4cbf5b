"""Actions: what users do about an account, written back to the store.

Every function writes in **one transaction**: the action row (table ``actions``),
the canonical row it implies where there is one (an interaction, an opportunity,
an advocacy ask, the new owner, the alert's status) and an **audit-log row** with
who, when, what and the before/after values. Inputs are checked first; a bad value
raises :class:`ActionError` and nothing is written. Values reach SQL only as bound
parameters.

SPEC.md "Actions": create task, start playbook, escalate, log interaction, create
expansion opportunity, invite to advocacy, snooze or dismiss an alert, reassign owner.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import audit, state
from greendoor.access import Actor, Principal, account_clause, authorize
from greendoor.labels import human
from greendoor.metrics.sql import arr_as_of_query
from greendoor.playbooks import PLAYBOOKS
from greendoor.rules import LIVE_ALERT
from greendoor.settings import current as current_settings
from greendoor.store import schema
from greendoor.store.engine import new_id

TASK_TYPES = ("check-in", "executive outreach", "QBR", "training", "other")
INTERACTION_TYPES = ("meeting", "call", "email", "qbr", "ebr")
ADVOCACY_TYPES = ("reference_call", "case_study", "review", "referral", "testimonial",
                  "speaking", "community", "advisory_board")
MAX_TEXT = 2000


class ActionError(ValueError):
    """An action's input is invalid; nothing was written."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _text(value, field: str, required: bool = True, limit: int = 200) -> str | None:
    if value is None or str(value).strip() == "":
        if required:
            raise ActionError(f"{field} is required")
        return None
    v = str(value).strip()
    if len(v) > limit:
        raise ActionError(f"{field} is longer than {limit} characters")
    return v


def _date(value, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ActionError(f"{field} is not a date (YYYY-MM-DD): {value!r}") from exc


def _account(conn: Connection, account_id: str) -> dict:
    row = conn.execute(sa.select(schema.accounts).where(
        schema.accounts.c.account_id == str(account_id))).mappings().first()
    if row is None:
        raise ActionError(f"unknown account {account_id!r}")
    return dict(row)


def _audit(conn: Connection, actor: str, action: str, entity: str, entity_id: str,
           before=None, after=None) -> None:
    audit.record(conn, actor, action, entity, entity_id, before, after)


def _insert_action(conn: Connection, actor: str, **values) -> dict:
    row = {"action_id": new_id(), "status": "open", "created_by": actor, "created_at": _now(),
           **values}
    conn.execute(schema.actions.insert().values(**row))
    _audit(conn, actor, f"action.{row['type']}", "actions", row["action_id"], after=row)
    return row


def create_task(engine: Engine, account_id: str, title: str, owner: str, due_date,
                task_type: str = "check-in", note: str | None = None,
                actor: Actor = "user") -> str:
    """Create a task (check-in, executive outreach, QBR, training) on an account.
    Returns the action id."""
    return bulk_create_tasks(engine, [account_id], title, due_date, task_type, note,
                             owner=owner, actor=actor)[0]


def bulk_create_tasks(engine: Engine, account_ids: list[str], title: str, due_date,
                      task_type: str = "check-in", note: str | None = None,
                      owner: str | None = None, actor: Actor = "user") -> list[str]:
    """The same task on each of ``account_ids`` in **one transaction** (an audit row per
    account), owned by ``owner`` or else by each account's CSM. Returns the action ids.
    Raises :class:`ActionError` (nothing written) for a bad input or unknown account and
    :class:`~greendoor.access.AccessDenied` for an account outside the actor's book."""
    if task_type not in TASK_TYPES:
        raise ActionError(f"task type must be one of {', '.join(TASK_TYPES)}")
    title, due = _text(title, "title"), _date(due_date, "due date")
    owner, note = _text(owner, "owner", False, 100), _text(note, "note", False, MAX_TEXT)
    ids = []
    with engine.begin() as conn:
        for account_id in _ids(account_ids):
            who = authorize(conn, actor, "act", account_id)
            acc = _account(conn, account_id)
            ids.append(add_task(conn, who, acc, title,
                                owner or _text(acc["csm_owner"], "owner", limit=100), due,
                                task_type, note))
    return ids


def add_task(conn: Connection, actor: str, acc: dict, title: str, owner: str, due: dt.date,
             task_type: str = "other", note: str | None = None, payload: dict | None = None
             ) -> str:
    """Write one task on ``acc`` (an ``accounts`` row) with its audit row inside the
    caller's transaction (inputs already checked); returns the action id."""
    row = _insert_action(conn, actor, account_id=acc["account_id"], type="task", title=title,
                         owner=owner, due_date=due, note=note,
                         payload_json=json.dumps({"task_type": task_type, **(payload or {})}))
    return row["action_id"]


def _ids(account_ids) -> list[str]:
    ids = list(dict.fromkeys(str(a) for a in account_ids))
    if not ids:
        raise ActionError("no account selected")
    return ids


def escalate(engine: Engine, account_id: str, owner: str, due_date, reason: str,
             actor: Actor = "user") -> str:
    """Escalate an account (to a manager or executive) with the reason."""
    with engine.begin() as conn:
        actor = authorize(conn, actor, "act", account_id)
        acc = _account(conn, account_id)
        row = _insert_action(
            conn, actor, account_id=account_id, type="escalation",
            title=f"Escalation: {acc['name']}", owner=_text(owner, "owner", limit=100),
            due_date=_date(due_date, "due date"), note=_text(reason, "reason", True, MAX_TEXT))
    return row["action_id"]


def start_playbook(engine: Engine, account_id: str, playbook: str, owner: str,
                   start=None, renewal_date=None, actor: Actor = "user") -> str:
    """Start a playbook: one run plus one task per step (due on its day offset; for
    the renewal playbook, counted back from ``renewal_date``). Returns the run id."""
    return bulk_start_playbook(engine, [account_id], playbook, owner=owner, start=start,
                               renewal_dates={str(account_id): renewal_date}
                               if renewal_date is not None else None, actor=actor)[0]


def bulk_start_playbook(engine: Engine, account_ids: list[str], playbook: str,
                        owner: str | None = None, start=None,
                        renewal_dates: dict | None = None, actor: Actor = "user") -> list[str]:
    """Start ``playbook`` on each of ``account_ids`` in **one transaction** (the run and its
    steps, an audit row each), owned by ``owner`` or else each account's CSM. The renewal
    playbook counts back from ``renewal_dates[account]``, or else from the account's next
    renewal in force (:func:`greendoor.state.next_renewals`); an account without one is
    refused. Returns the run ids; raises :class:`ActionError` (nothing written) or
    :class:`~greendoor.access.AccessDenied`."""
    if playbook not in PLAYBOOKS:
        raise ActionError(f"unknown playbook {playbook!r}; one of {', '.join(PLAYBOOKS)}")
    pb = PLAYBOOKS[playbook]
    start = _date(start or dt.date.today(), "start date")
    owner = _text(owner, "owner", False, 100)
    ids = []
    with engine.begin() as conn:
        renewals = dict(renewal_dates or {})
        if pb.relative_to == "renewal":
            nxt = state.next_renewals(conn, start).dropna(subset=["next_renewal"])
            for aid, r in zip(nxt["account_id"], nxt["next_renewal"], strict=True):
                renewals.setdefault(aid, r)
        for account_id in _ids(account_ids):
            who = authorize(conn, actor, "act", account_id)
            acc = _account(conn, account_id)
            if pb.relative_to == "renewal" and renewals.get(account_id) is None:
                raise ActionError(f"the renewal playbook needs the renewal date of "
                                  f"{acc['name']} ({account_id}): none is known")
            base = _date(renewals[account_id], "renewal date") \
                if pb.relative_to == "renewal" else start
            ids.append(_start_run(conn, who, acc, pb, playbook, start, base,
                                  owner or _text(acc["csm_owner"], "owner", limit=100)))
    return ids


def add_playbook_run(conn: Connection, actor: str, acc: dict, playbook: str, start: dt.date,
                     base: dt.date, owner: str) -> str:
    """Write one run of ``playbook`` on ``acc`` (an ``accounts`` row), its steps counted
    from ``base``, with their audit rows inside the caller's transaction; returns the run
    id."""
    return _start_run(conn, actor, acc, PLAYBOOKS[playbook], playbook, start, base, owner)


def _start_run(conn: Connection, actor: str, acc: dict, pb, playbook: str, start: dt.date,
               base: dt.date, owner: str) -> str:
    account_id = acc["account_id"]
    run = _insert_action(conn, actor, account_id=account_id, type="playbook_run",
                         title=f"{pb.name}: {acc['name']}", owner=owner, playbook=playbook,
                         due_date=base + dt.timedelta(days=max(s.offset_days for s in pb.steps)),
                         payload_json=json.dumps({"start": str(start), "base": str(base)}))
    for i, step in enumerate(pb.steps):
        due = max(base + dt.timedelta(days=step.offset_days), start)
        _insert_action(conn, actor, account_id=account_id, type="playbook_step",
                       title=step.title, owner=owner if step.owner_role == "csm" else
                       f"{human(step.owner_role)} ({owner})", due_date=due, playbook=playbook,
                       parent_action_id=run["action_id"],
                       payload_json=json.dumps({"step": i + 1, "role": step.owner_role}))
    return run["action_id"]


def log_interaction(engine: Engine, account_id: str, kind: str, occurred_at, attended=None,
                    note: str | None = None, owner: str | None = None,
                    actor: Actor = "user") -> str:
    """Record a CSM touch (writes ``interactions`` and an action). Returns the action id."""
    if kind not in INTERACTION_TYPES:
        raise ActionError(f"interaction type must be one of {', '.join(INTERACTION_TYPES)}")
    when = _date(occurred_at, "date")
    with engine.begin() as conn:
        actor = authorize(conn, actor, "act", account_id)
        _account(conn, account_id)
        iid = new_id()
        rec = {"interaction_id": iid, "account_id": account_id,
               "occurred_at": dt.datetime.combine(when, dt.time(12)), "type": kind,
               "attended": None if kind == "email" else bool(attended),
               "owner": _text(owner or actor, "owner", limit=100),
               "note": _text(note, "note", False, MAX_TEXT)}
        conn.execute(schema.interactions.insert().values(**rec))
        row = _insert_action(conn, actor, account_id=account_id, type="interaction",
                             title=f"Logged {kind}", owner=rec["owner"], status="done",
                             completed_at=_now(), note=rec["note"],
                             payload_json=json.dumps({"interaction_id": iid}))
    return row["action_id"]


def create_expansion_opportunity(engine: Engine, account_id: str, amount: float, close_date,
                                 stage: str = "discovery", note: str | None = None,
                                 actor: Actor = "user") -> str:
    """Open an expansion opportunity (writes ``opportunities`` and an action)."""
    try:
        amount = float(amount)
    except (TypeError, ValueError) as exc:
        raise ActionError(f"amount is not a number: {amount!r}") from exc
    if not amount > 0:
        raise ActionError("amount must be positive")
    close = _date(close_date, "close date")
    with engine.begin() as conn:
        actor = authorize(conn, actor, "act", account_id)
        acc = _account(conn, account_id)
        oid = new_id()
        conn.execute(schema.opportunities.insert().values(
            opportunity_id=oid, account_id=account_id, type="expansion",
            stage=_text(stage, "stage", limit=50), amount=amount, probability=0.1,
            forecast_category="pipeline", close_date=close, status="open",
            created_at=dt.date.today(), name=f"{acc['name']} - expansion"))
        row = _insert_action(conn, actor, account_id=account_id, type="opportunity",
                             title=f"Expansion opportunity ${amount:,.0f}", owner=actor,
                             due_date=close, note=_text(note, "note", False, MAX_TEXT),
                             payload_json=json.dumps({"opportunity_id": oid}))
    return row["action_id"]


def invite_to_advocacy(engine: Engine, account_id: str, kind: str, contact_id: str | None = None,
                       note: str | None = None, actor: Actor = "user",
                       today: dt.date | None = None) -> str:
    """Ask the account to advocate (writes an ``asked`` advocacy activity and an action).
    Refused (:class:`ActionError`, nothing written) when the account already had
    ``advocacy.max_asks_per_quarter`` asks (any advocacy activity) in the 90 days before
    ``today``: asking more wears advocates out."""
    if kind not in ADVOCACY_TYPES:
        raise ActionError(f"advocacy type must be one of {', '.join(ADVOCACY_TYPES)}")
    today = today or dt.date.today()
    v = schema.advocacy_activities
    with engine.begin() as conn:
        actor = authorize(conn, actor, "act", account_id)
        _account(conn, account_id)
        limit = current_settings(conn)[1]["advocacy"]["max_asks_per_quarter"]
        asks = conn.execute(sa.select(sa.func.count()).select_from(v).where(
            v.c.account_id == account_id, v.c.occurred_at > today - dt.timedelta(days=90),
            v.c.occurred_at <= today)).scalar()
        if asks >= limit:
            raise ActionError(f"{account_id} was already asked {asks} time(s) in the last 90 "
                              f"days (at most {limit} a quarter: the advocacy setting "
                              "max_asks_per_quarter); ask again later")
        aid = new_id()
        conn.execute(v.insert().values(
            activity_id=aid, account_id=account_id, contact_id=contact_id, type=kind,
            status="asked", occurred_at=today, value=None))
        row = _insert_action(conn, actor, account_id=account_id, type="advocacy_invite",
                             title=f"Advocacy ask: {kind.replace('_', ' ')}", owner=actor,
                             note=_text(note, "note", False, MAX_TEXT),
                             payload_json=json.dumps({"activity_id": aid}))
    return row["action_id"]


#: Advocacy activities whose result is a reusable asset (the asset library, issue 25).
ASSET_TYPES = ("case_study", "testimonial", "review")


def record_asset_use(engine: Engine, activity_id: str, used_for: str,
                     opportunity_id: str | None = None, actor: Actor = "user") -> str:
    """Record that an advocacy asset (a completed case study, testimonial or review:
    :data:`ASSET_TYPES`) was used, ``used_for`` what (a deal, a campaign, a web page),
    optionally naming the ``opportunity_id`` it supported: a done ``asset_use`` action on
    the asset's account, audited. Returns the action id; raises :class:`ActionError`
    (nothing written) for an unknown or unfinished asset, an empty ``used_for`` or an
    unknown opportunity, :class:`~greendoor.access.AccessDenied` outside the actor's book."""
    used_for = _text(used_for, "used for", True, 200)
    v, o = schema.advocacy_activities, schema.opportunities
    with engine.begin() as conn:
        act = conn.execute(sa.select(v).where(v.c.activity_id == str(activity_id))) \
            .mappings().first()
        if act is None:
            raise ActionError(f"unknown advocacy activity {activity_id!r}")
        if act["type"] not in ASSET_TYPES or act["status"] != "completed":
            raise ActionError(f"{activity_id!r} is a {act['status']} {human(act['type'])}: "
                              f"an asset is a completed {', '.join(ASSET_TYPES)}")
        if opportunity_id and conn.execute(sa.select(o.c.opportunity_id).where(
                o.c.opportunity_id == str(opportunity_id))).first() is None:
            raise ActionError(f"unknown opportunity {opportunity_id!r}")
        who = authorize(conn, actor, "act", act["account_id"])
        row = _insert_action(conn, who, account_id=act["account_id"], type="asset_use",
                             title=f"{human(act['type'])} used: {used_for}", owner=who,
                             status="done", completed_at=_now(),
                             payload_json=json.dumps({"activity_id": act["activity_id"],
                                                      "used_for": used_for,
                                                      "opportunity_id": opportunity_id}))
    return row["action_id"]


def snooze_alert(engine: Engine, alert_id: str, until, reason: str, dismiss: bool = False,
                 actor: Actor = "user") -> str:
    """Snooze an alert until a date (or dismiss it) with a reason. Re-scoring does
    not raise it again while snoozed (:func:`greendoor.scoring.run.write_alerts`)."""
    reason = _text(reason, "reason", True, MAX_TEXT)
    until_d = None if dismiss else _date(until, "snooze until")
    with engine.begin() as conn:
        t = schema.alerts
        alert = conn.execute(sa.select(t).where(t.c.alert_id == str(alert_id))).mappings().first()
        if alert is None:
            raise ActionError(f"unknown alert {alert_id!r}")
        actor = authorize(conn, actor, "act", alert["account_id"])
        before = {"status": alert["status"], "snoozed_until": alert["snoozed_until"]}
        after = {"status": "dismissed" if dismiss else "snoozed", "snoozed_until": until_d}
        conn.execute(t.update().where(t.c.alert_id == alert["alert_id"]).values(**after))
        _audit(conn, actor, "alert.snooze", "alerts", alert["alert_id"], before, after)
        row = _insert_action(conn, actor, account_id=alert["account_id"], type="alert_snooze",
                             title=f"{'Dismissed' if dismiss else 'Snoozed'}: {alert['title']}",
                             owner=actor, status="done", completed_at=_now(), note=reason,
                             payload_json=json.dumps({"alert_id": alert["alert_id"],
                                                      "until": str(until_d)}))
    return row["action_id"]


#: What the alert inbox can do to alerts, in words (the action row's title).
ALERT_CHANGES = {"acknowledge": "Acknowledged", "assign": "Assigned", "snooze": "Snoozed",
                 "resolve": "Resolved", "false_positive": "Marked false positive"}
#: The alert status each change leaves (:data:`greendoor.rules.ALERT_STATUSES`); an
#: assigned alert is acknowledged (someone owns it).
ALERT_STATUS_AFTER = {"acknowledge": "acknowledged", "assign": "acknowledged",
                      "snooze": "snoozed", "resolve": "resolved",
                      "false_positive": "false_positive"}


def update_alerts(engine: Engine, alert_ids: list[str], change: str, actor: Actor = "user",
                  note: str | None = None, until=None, quiet_days: int = 30,
                  today: dt.date | None = None, assignee: str | None = None) -> int:
    """Apply one inbox ``change`` (:data:`ALERT_CHANGES`) to every alert of ``alert_ids``,
    in one transaction: the alert's status (and ``snoozed_until``), an audit row
    (``alert.<change>``, before/after) and a done action on the account (shown on
    Account 360), per alert. ``snooze`` needs ``until`` (a date after ``today``);
    ``resolve`` needs the outcome and ``false_positive`` the reason, as ``note``;
    ``assign`` needs the ``assignee`` (a person's name; the alert becomes acknowledged and
    keeps its assignee when a later scoring raises it again). A resolved or
    false-positive alert is not raised again for ``quiet_days`` (the setting
    ``alert_quiet_days``). Returns the number of alerts changed.

    Raises :class:`ActionError` (nothing written) for an unknown change or alert, a
    missing note or date, or an alert already closed; :class:`~greendoor.access.
    AccessDenied` when ``actor`` may not act on one of the accounts."""
    if change not in ALERT_CHANGES:
        raise ActionError(f"unknown alert change {change!r}: one of {', '.join(ALERT_CHANGES)}")
    ids = [str(a) for a in dict.fromkeys(alert_ids)]
    if not ids:
        raise ActionError("no alert selected")
    today = today or dt.date.today()
    needs = {"resolve": "outcome", "false_positive": "reason"}
    note = _text(note, needs.get(change, "note"), change in needs, MAX_TEXT)
    who_to = _text(assignee, "assignee", True, 100) if change == "assign" else None
    until_d = None
    if change == "snooze":
        until_d = _date(until, "snooze until")
        if until_d <= today:
            raise ActionError(f"snooze until {until_d}: pick a date after {today}")
    elif change in needs:
        until_d = today + dt.timedelta(days=int(quiet_days))
    t = schema.alerts
    with engine.begin() as conn:
        rows = conn.execute(sa.select(t).where(t.c.alert_id.in_(ids))).mappings().all()
        missing = set(ids) - {r["alert_id"] for r in rows}
        if missing:
            raise ActionError(f"unknown alert {sorted(missing)[0]!r}")
        for alert in rows:
            if alert["status"] not in LIVE_ALERT + ("snoozed",):
                raise ActionError(f"alert {alert['alert_id']!r} is already {alert['status']}")
            who = authorize(conn, actor, "act", alert["account_id"])
            before = {"status": alert["status"], "snoozed_until": alert["snoozed_until"],
                      "assignee": alert["assignee"]}
            after = {"status": ALERT_STATUS_AFTER[change],
                     "snoozed_until": until_d if change not in ("acknowledge", "assign")
                     else None,
                     "assignee": who_to if change == "assign" else alert["assignee"]}
            conn.execute(t.update().where(t.c.alert_id == alert["alert_id"]).values(**after))
            _audit(conn, who, f"alert.{change}", "alerts", alert["alert_id"], before,
                   {**after, "note": note})
            _insert_action(conn, who, account_id=alert["account_id"], type=f"alert_{change}",
                           title=f"{ALERT_CHANGES[change]}"
                           f"{' to ' + who_to if who_to else ''}: {alert['title']}", owner=who,
                           status="done", completed_at=_now(), note=note,
                           payload_json=json.dumps({"alert_id": alert["alert_id"],
                                                    "rule": alert["rule"],
                                                    "until": str(until_d) if until_d else None}))
    return len(rows)


def reassign_owner(engine: Engine, account_id: str, new_owner: str, reason: str | None = None,
                   actor: Actor = "user") -> str:
    """Change the account's CSM owner (before/after in the audit log)."""
    return reassign_owners(engine, [(account_id, new_owner)], reason, actor)[0]


def reassign_owners(engine: Engine, moves: list[tuple[str, str]], reason: str | None = None,
                    actor: Actor = "user") -> list[str]:
    """Change the CSM owner of several accounts, ``moves`` = [(account id, new owner)], in
    **one transaction** with an audit row and a ``reassign`` action per account (a bulk
    action, or the team view's rebalancing). Returns the action ids. Raises
    :class:`ActionError` (nothing written) for a bad owner or unknown account and
    :class:`~greendoor.access.AccessDenied` when ``actor`` may not reassign one of them."""
    reason = _text(reason, "reason", False, MAX_TEXT)
    checked = [(str(aid), _text(owner, "new owner", limit=100)) for aid, owner in moves]
    ids = []
    with engine.begin() as conn:
        for account_id, new_owner in checked:
            who = authorize(conn, actor, "reassign", account_id)
            acc = _account(conn, account_id)
            a = schema.accounts
            conn.execute(a.update().where(a.c.account_id == account_id)
                         .values(csm_owner=new_owner))
            _audit(conn, who, "account.reassign", "accounts", account_id,
                   {"csm_owner": acc["csm_owner"]}, {"csm_owner": new_owner})
            row = _insert_action(conn, who, account_id=account_id, type="reassign",
                                 title=f"Owner {acc['csm_owner']} -> {new_owner}",
                                 owner=new_owner, status="done", completed_at=_now(),
                                 note=reason)
            ids.append(row["action_id"])
    return ids


def set_status(engine: Engine, action_id: str, status: str, actor: Actor = "user") -> None:
    """Mark an action done, cancelled or open again."""
    if status not in ("open", "done", "cancelled"):
        raise ActionError("status must be open, done or cancelled")
    with engine.begin() as conn:
        t = schema.actions
        row = conn.execute(sa.select(t.c.status, t.c.account_id)
                           .where(t.c.action_id == action_id)).first()
        if row is None:
            raise ActionError(f"unknown action {action_id!r}")
        actor = authorize(conn, actor, "act", row[1])
        now = _now()
        conn.execute(t.update().where(t.c.action_id == action_id).values(
            status=status, updated_at=now, completed_at=now if status == "done" else None))
        _audit(conn, actor, "action.status", "actions", action_id, {"status": row[0]},
               {"status": status})


def list_actions(conn: Connection, account_id: str | None = None, owner: str | None = None,
                 status: str | None = None, principal: Principal | None = None) -> pd.DataFrame:
    """Actions, newest first, with the account name; filters are optional. With a
    ``principal``, only actions on accounts in their scope (a csm's book)."""
    t, a = schema.actions, schema.accounts
    q = sa.select(t, a.c.name.label("account_name")).select_from(
        t.join(a, a.c.account_id == t.c.account_id, isouter=True))
    if (cond := account_clause(principal, t.c.account_id)) is not None:
        q = q.where(cond)
    if account_id:
        q = q.where(t.c.account_id == account_id)
    if owner:
        q = q.where(t.c.owner == owner)
    if status:
        q = q.where(t.c.status == status)
    return pd.read_sql(q.order_by(t.c.created_at.desc()), conn)


def playbook_runs(conn: Connection, today: dt.date | None = None,
                  principal: Principal | None = None) -> pd.DataFrame:
    """One row per playbook run: ``action_id, account_id, account_name, playbook, owner,
    started, steps, done, progress`` (0-1), ``overdue`` (open steps past due)."""
    today = today or dt.date.today()
    t, a = schema.actions, schema.accounts
    q = (sa.select(t.c.action_id, t.c.account_id, a.c.name.label("account_name"), t.c.playbook,
                   t.c.owner, t.c.created_at.label("started"), t.c.status)
         .select_from(t.join(a, a.c.account_id == t.c.account_id, isouter=True))
         .where(t.c.type == "playbook_run").order_by(t.c.created_at.desc()))
    if (cond := account_clause(principal, t.c.account_id)) is not None:
        q = q.where(cond)
    runs = pd.read_sql(q, conn)
    steps = pd.read_sql(sa.select(t.c.parent_action_id, t.c.status, t.c.due_date)
                        .where(t.c.type == "playbook_step"), conn)
    if runs.empty:
        return runs.assign(steps=[], done=[], progress=[], overdue=[])
    g = steps.groupby("parent_action_id")
    runs["steps"] = runs["action_id"].map(g.size()).fillna(0).astype(int)
    runs["done"] = runs["action_id"].map(g["status"].apply(lambda s: (s == "done").sum())) \
        .fillna(0).astype(int)
    late = steps[(steps["status"] == "open") & (pd.to_datetime(steps["due_date"]) < pd.Timestamp(today))]
    runs["overdue"] = runs["action_id"].map(late.groupby("parent_action_id").size()).fillna(0) \
        .astype(int)
    runs["progress"] = runs["done"] / runs["steps"].where(runs["steps"] > 0)
    return runs


class _RunBook:
    """What :func:`playbook_effectiveness` reads per run, computed once per date, band
    and check day that runs share (a pass over every snapshot per run took 9-11 s at
    1,500 accounts; the same figures now take about 2.5 s, half of it reading who holds
    ARR on each check day)."""

    def __init__(self, conn: Connection, snaps: pd.DataFrame, treated: set,
                 data_end: dt.date | None):
        self.conn, self.data_end = conn, data_end
        self.dates = np.sort(snaps["as_of"].unique())
        self.by_date = {d: g.set_index("account_id") for d, g in snaps.groupby("as_of")}
        self.treated = treated
        self._untreated: dict[int, pd.DataFrame] = {}
        self._peers: dict[tuple, tuple[pd.Index, float | None]] = {}
        self._alive: dict[dt.date, set] = {}
        self._peers_kept: dict[tuple, float] = {}

    def _peers_of(self, i0: int, i1: int, band) -> tuple[pd.Index, float | None]:
        """The accounts without a run in ``band`` at ``dates[i0]`` with a snapshot at
        ``dates[i1]``, and their mean health change (None without peers)."""
        key = (i0, i1, band)
        if key not in self._peers:
            s0, s1 = self.by_date[self.dates[i0]], self.by_date[self.dates[i1]]
            if i0 not in self._untreated:
                self._untreated[i0] = s0[~s0.index.isin(self.treated)]
            u = self._untreated[i0]
            peers = u[u["band"] == band].index.intersection(s1.index)
            self._peers[key] = (peers, float((s1.loc[peers, "health_score"]
                                              - s0.loc[peers, "health_score"]).mean())
                                if len(peers) else None)
        return self._peers[key]

    def _alive_at(self, day: dt.date) -> set:
        if day not in self._alive:
            self._alive[day] = set(pd.read_sql(arr_as_of_query(day), self.conn)["account_id"])
        return self._alive[day]

    def outcome(self, account_id: str, start: pd.Timestamp, days: int) -> dict | None:
        """For a run started on ``start``: ``change`` (the account's health ``days``
        later, from the snapshots around), ``peer_change`` (its untreated same-band
        peers', or None), ``kept`` / ``peers_kept`` (holding ARR 90 days after the
        start: 1.0/0.0 and the peers' share; None before the data reaches that day).
        None when the snapshots do not cover the run."""
        i0 = int(np.searchsorted(self.dates, start, side="right")) - 1
        i1 = int(np.searchsorted(self.dates, start + pd.Timedelta(days=days), side="left"))
        if i0 < 0 or i1 >= len(self.dates):
            return None
        s0, s1 = self.by_date[self.dates[i0]], self.by_date[self.dates[i1]]
        if account_id not in s0.index or account_id not in s1.index:
            return None
        band = s0.at[account_id, "band"]
        peers, peer_change = self._peers_of(i0, i1, band)
        found = {"change": s1.at[account_id, "health_score"] - s0.at[account_id, "health_score"],
                 "peer_change": peer_change, "kept": None, "peers_kept": None}
        later = (start + pd.Timedelta(days=90)).date()
        if self.data_end is not None and later <= self.data_end:
            alive = self._alive_at(later)
            found["kept"] = float(account_id in alive)
            if len(peers):
                key = (i0, i1, band, later)
                if key not in self._peers_kept:
                    self._peers_kept[key] = float(np.mean([p in alive for p in peers]))
                found["peers_kept"] = self._peers_kept[key]
        return found


def playbook_effectiveness(conn: Connection, days: int = 30) -> pd.DataFrame:
    """Health change ``days`` after each playbook run started, against comparable
    accounts without a run (same band at the start, same snapshot dates).

    Returns per playbook: ``playbook, runs, health_change`` (mean points),
    ``comparable_change``, ``uplift`` (difference), and ``retained`` /
    ``comparable_retained``: the share still holding ARR 90 days after the start
    (NaN until 90 days have passed). Runs younger than ``days``, or without
    snapshots around their start and end, are not counted.
    """
    t, ss = schema.actions, schema.score_snapshots
    runs = pd.read_sql(sa.select(t.c.account_id, t.c.playbook, t.c.created_at)
                       .where(t.c.type == "playbook_run"), conn)
    snaps = pd.read_sql(sa.select(ss.c.account_id, ss.c.as_of, ss.c.health_score, ss.c.band), conn)
    cols = ["playbook", "runs", "health_change", "comparable_change", "uplift", "retained",
            "comparable_retained"]
    data_end = conn.execute(sa.select(sa.func.max(ss.c.as_of))).scalar()
    if runs.empty or snaps.empty:
        return pd.DataFrame(columns=cols)
    snaps["as_of"] = pd.to_datetime(snaps["as_of"])
    book = _RunBook(conn, snaps, set(runs["account_id"]), data_end)
    out = []
    for pb, g in runs.groupby("playbook"):
        own, comp, kept, kept_peers = [], [], [], []
        for r in g.itertuples():
            found = book.outcome(r.account_id, pd.Timestamp(r.created_at).normalize(), days)
            if found is None:
                continue
            own.append(found["change"])
            if found["peer_change"] is not None:
                comp.append(found["peer_change"])
            if found["kept"] is not None:
                kept.append(found["kept"])
            if found["peers_kept"] is not None:
                kept_peers.append(found["peers_kept"])
        if own:
            hc, cc = float(np.mean(own)), float(np.mean(comp)) if comp else float("nan")
            out.append({"playbook": pb, "runs": len(own), "health_change": hc,
                        "comparable_change": cc, "uplift": hc - cc,
                        "retained": float(np.mean(kept)) if kept else float("nan"),
                        "comparable_retained": float(np.mean(kept_peers)) if kept_peers
                        else float("nan")})
    return pd.DataFrame(out, columns=cols)


#: The CSM's forecast call on a renewal (issue 21), most to least likely to renew.
FORECAST_CALLS = ("commit", "best_case", "at_risk", "lost")


def record_forecast_calls(engine: Engine, calls: pd.DataFrame, actor: Actor = "user") -> int:
    """Record the CSM's calls on renewals: ``calls`` has one row per renewal with
    ``account_id, renewal_date, call`` (:data:`FORECAST_CALLS`), ``amount`` (the expected
    renewed ARR, expansion included; a ``lost`` call is 0) and an optional ``note``.
    Rows equal to the call in force are skipped; the others are appended (a call is never
    overwritten: earlier weeks keep the call they had) with one audit row each, all in one
    transaction. Returns the number of calls recorded. Raises :class:`ActionError` naming
    the row, column and value (nothing written) and
    :class:`~greendoor.access.AccessDenied` for an account outside the actor's book."""
    rows = calls.astype(object).where(calls.notna(), None).to_dict("records")
    clean = [_call_row(i, r) for i, r in enumerate(rows, start=1)]
    fc = schema.forecast_calls
    now, written = _now(), 0
    with engine.begin() as conn:
        for r in clean:
            who = authorize(conn, actor, "act", r["account_id"])
            _account(conn, r["account_id"])
            prev = conn.execute(sa.select(fc.c.call, fc.c.amount, fc.c.note).where(
                fc.c.account_id == r["account_id"], fc.c.renewal_date == r["renewal_date"])
                .order_by(fc.c.created_at.desc()).limit(1)).mappings().first()
            if prev is not None and (prev["call"], prev["amount"], prev["note"]) == (
                    r["call"], r["amount"], r["note"]):
                continue
            row = {"call_id": new_id(), **r, "created_by": who, "created_at": now}
            conn.execute(fc.insert().values(**row))
            _audit(conn, who, "forecast.call", "forecast_calls", row["call_id"],
                   dict(prev) if prev else None, row)
            written += 1
    return written


def _call_row(i: int, r: dict) -> dict:
    """One checked call (see :func:`record_forecast_calls`)."""
    where = f"row {i} ({r.get('account_id') or 'no account'})"
    call = r.get("call")
    if call not in FORECAST_CALLS:
        raise ActionError(f"{where}, call: must be one of {', '.join(FORECAST_CALLS)}, "
                          f"got {call!r}")
    try:
        amount = 0.0 if call == "lost" else float(r.get("amount"))
    except (TypeError, ValueError):
        raise ActionError(f"{where}, amount: not a number, got {r.get('amount')!r}") from None
    if not np.isfinite(amount) or amount < 0:
        raise ActionError(f"{where}, amount: must be a finite amount of 0 or more, "
                          f"got {r.get('amount')!r}")
    return {"account_id": _text(r.get("account_id"), f"{where}, account_id", limit=100),
            "renewal_date": _date(r.get("renewal_date"), f"{where}, renewal_date"),
            "call": call, "amount": amount,
            "note": _text(r.get("note"), f"{where}, note", False, MAX_TEXT)}


#: Why a customer left: the data contract's churn reasons (greendoor.ingest.contract).
CHURN_REASONS = ("pricing", "budget", "competitor", "features", "support", "other")
#: An exported churn event this close to a close-out (days) is the same churn.
SAME_CHURN_DAYS = 60


def record_close_out(engine: Engine, account_id: str, churn_date, reason: str,
                     feedback: str | None = None, arr_lost: float | None = None,
                     actor: Actor = "user", today: dt.date | None = None) -> str:
    """Close out a lost account: the CSM records when it left, why (:data:`CHURN_REASONS`),
    what the customer said and the ARR lost (default: its ARR on the day) as a done
    ``close_out`` action with an audit row. The churn reasons of the Churn risk page read
    these beside the export's churn events (an export's event within
    :data:`SAME_CHURN_DAYS` days is the same churn; the close-out gives it a reason when it
    has none). Canonical data is not touched: the next import still decides the ARR.
    Returns the action id; raises :class:`ActionError` for a date after ``today``, an
    unknown reason or a negative amount."""
    today = today or dt.date.today()
    when = _date(churn_date, "churn date")
    if when > today:
        raise ActionError(f"churn date {when}: a close-out records a churn that happened "
                          f"(on or before {today})")
    if reason not in CHURN_REASONS:
        raise ActionError(f"reason must be one of {', '.join(CHURN_REASONS)}, got {reason!r}")
    with engine.begin() as conn:
        who = authorize(conn, actor, "act", account_id)
        acc = _account(conn, account_id)
        if arr_lost is None:
            arr = pd.read_sql(arr_as_of_query(when).where(
                schema.subscriptions.c.account_id == account_id), conn)
            arr_lost = float(arr["arr"].sum()) if len(arr) else 0.0
        if not np.isfinite(float(arr_lost)) or float(arr_lost) < 0:
            raise ActionError(f"ARR lost must be 0 or more, got {arr_lost!r}")
        row = _insert_action(
            conn, who, account_id=account_id, type="close_out",
            title=f"Closed out ({human(reason)}): {acc['name']}", owner=who, status="done",
            completed_at=_now(), note=_text(feedback, "feedback", False, MAX_TEXT),
            payload_json=json.dumps({"churn_date": str(when), "reason": reason,
                                     "arr_lost": float(arr_lost)}))
    return row["action_id"]
