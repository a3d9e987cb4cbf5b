"""Data-subject requests for contacts (seed NFR-3; GDPR articles 15 and 17).

* :func:`export_subject`: everything the store holds about one contact: the contact
  row, their survey answers, advocacy activities, and actions or audit entries that
  name them.
* :func:`erase_subject`: removes what identifies the contact and keeps the aggregates.
  Name, email, title and comments are cleared; survey scores and advocacy activities
  stay, no longer linked to the person, so NPS, CSAT and pipeline counts are unchanged.
  The erasure itself is audited with counts only, no personal data.
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import audit
from greendoor.access import Actor, actor_name
from greendoor.store import schema

ERASED = "[erased]"


class SubjectNotFound(LookupError):
    """No contact with that id."""


def _contact(conn: Connection, contact_id: str) -> dict:
    row = conn.execute(sa.select(schema.contacts).where(
        schema.contacts.c.contact_id == str(contact_id))).mappings().first()
    if row is None:
        raise SubjectNotFound(f"no contact {contact_id!r} in the store")
    return dict(row)


def export_subject(engine: Engine, contact_id: str, actor: Actor = "cli") -> dict:
    """All data about one contact as a JSON-ready dict: ``contact``,
    ``survey_responses``, ``advocacy_activities``, ``actions`` (that name the contact
    in their text) and ``audit_log`` (entries about the contact). Raises
    :class:`SubjectNotFound`, or :class:`~greendoor.access.AccessDenied` for a
    principal who is not an admin."""
    r, v, t, a = (schema.survey_responses, schema.advocacy_activities, schema.actions,
                  schema.audit_log)
    with engine.connect() as conn:
        actor_name(actor, "admin")
        c = _contact(conn, contact_id)

        def rows(q) -> list[dict]:
            return json.loads(pd.read_sql(q, conn).to_json(orient="records", date_format="iso"))

        out = {"contact": json.loads(pd.Series(c).to_json(date_format="iso")),
               "survey_responses": rows(sa.select(r).where(r.c.contact_id == c["contact_id"])),
               "advocacy_activities": rows(sa.select(v).where(v.c.contact_id == c["contact_id"]))}
        names = [x for x in (c.get("name"), c.get("email")) if x]
        if names:
            cond = sa.or_(*[col.contains(n) for n in names for col in (t.c.title, t.c.note)])
            out["actions"] = rows(sa.select(t).where(cond))
        else:
            out["actions"] = []
        out["audit_log"] = rows(sa.select(a).where(a.c.entity_id == c["contact_id"]))
    return out


def erase_subject(engine: Engine, contact_id: str, actor: Actor = "cli") -> dict:
    """Erase one contact's personal data in one transaction (see the module
    docstring). Returns the counts of rows changed. Raises :class:`SubjectNotFound`,
    or :class:`~greendoor.access.AccessDenied` for a principal who is not an admin."""
    c_, r, v = schema.contacts, schema.survey_responses, schema.advocacy_activities
    with engine.begin() as conn:
        actor = actor_name(actor, "admin")
        c = _contact(conn, contact_id)
        cid = c["contact_id"]
        counts = {
            "survey_responses": conn.execute(r.update().where(r.c.contact_id == cid).values(
                contact_id=None, comment=None)).rowcount,
            "advocacy_activities": conn.execute(v.update().where(v.c.contact_id == cid).values(
                contact_id=None)).rowcount,
        }
        conn.execute(c_.update().where(c_.c.contact_id == cid).values(
            name=ERASED, email=None, title=None))
        counts["contacts"] = 1
        audit.record(conn, actor, "subject.erase", "contacts", cid, after=counts)
    return counts
