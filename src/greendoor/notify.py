"""Notifications that leave the screen (issue 19): a daily digest per person of their new
alerts, overdue actions and renewals entering a window, sent by e-mail over SMTP and to a
chat webhook (Slack-compatible JSON ``{"text": ...}``), both configured in the settings
(:class:`greendoor.config.Notifications`) and off by default.

``greendoor notify`` (for a scheduler, e.g. cron at 07:00) calls :func:`run`:

1. :func:`queue` writes today's digests into ``notifications`` (one per recipient, channel
   and day: running twice a day queues nothing new). Recipients: every user whose user
   name is an e-mail address (a csm gets their book, other roles every account), the
   setting ``team_email`` (every account), and the webhook (every account).
2. :func:`send_pending` delivers every digest not yet sent, today's and earlier failures
   alike; a failure keeps the digest with its error and the attempt count, so the next
   run retries it. Every delivery and failure is audited.

Nothing is sent anywhere but the configured SMTP server and webhook URL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import smtplib
import socket
import urllib.error
import urllib.request
from email.message import EmailMessage

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import audit
from greendoor import settings as S
from greendoor.analytics import alerts as AL
from greendoor.analytics import this_week
from greendoor.labels import human, money
from greendoor.periods import Filters
from greendoor.store import schema
from greendoor.store.engine import new_id

#: Environment variable holding the SMTP password (never stored in the settings).
SMTP_PASSWORD_ENV = "GREENDOOR_SMTP_PASSWORD"
#: The agenda sections a digest carries besides the new alerts.
SECTIONS = ("Renewals entering a window", "Overdue actions")
#: Lines listed per section (the count says how many there are).
MAX_LINES = 10


class NotifyError(RuntimeError):
    """Notifications are misconfigured (nothing is queued or sent)."""


@dataclasses.dataclass(frozen=True)
class Recipient:
    """Who gets a digest: ``address`` (e-mail, or ``"webhook"``), ``channel`` and the
    ``owner`` whose book it covers (``None``: every account)."""

    address: str
    channel: str
    owner: str | None = None


def recipients(conn: Connection, settings: dict) -> list[Recipient]:
    """The digests to send under ``settings['notifications']`` (module docstring)."""
    n = settings["notifications"]
    out: list[Recipient] = []
    if n["email_enabled"]:
        u = schema.users
        for name, role, book in conn.execute(sa.select(u.c.username, u.c.role, u.c.book)
                                             .order_by(u.c.username)):
            if "@" in name and role != "viewer":
                out.append(Recipient(name, "email", book if role == "csm" else None))
        if n["team_email"] and n["team_email"] not in {r.address for r in out}:
            out.append(Recipient(n["team_email"], "email"))
    if n["webhook_enabled"]:
        out.append(Recipient("webhook", "webhook"))
    return out


def digest(conn: Connection, as_of: dt.date, since: dt.date, owner: str | None,
           settings: dict) -> tuple[str, str, int]:
    """``(subject, text, items)`` of the digest of ``owner``'s book (every account when
    ``None``) for what happened in ``[since, as_of)``: alerts raised, renewals entering a
    window and overdue actions (:func:`greendoor.analytics.this_week.agenda`)."""
    f = Filters(as_of=as_of, owner=owner)
    alerts = AL.inbox(conn, f, today=as_of)
    if len(alerts):
        created = pd.to_datetime(alerts["created_at"])
        alerts = alerts[created >= pd.Timestamp(since)]
    ag = this_week.agenda(conn, f, since, drop_points=settings["this_week_health_drop_points"],
                          windows=tuple(settings["this_week_renewal_windows_days"]),
                          expansion_min=settings["this_week_expansion_probability"],
                          today=as_of)
    parts = [("New alerts", [f"{r['name']}: {r['title']} ({human(r['severity'])})"
                             for _, r in alerts.iterrows()])]
    for section in SECTIONS:
        rows = ag[ag["section"] == section]
        parts.append((section, [f"{r['name']}: {r['detail']} ({money(r['arr'])} ARR)"
                                for _, r in rows.iterrows()]))
    items = sum(len(lines) for _, lines in parts)
    book = f"{owner}'s book" if owner else "all accounts"
    subject = f"Greendoor daily digest, {as_of:%d %b %Y}: {items} item{'s' * (items != 1)} ({book})"
    text = [subject, ""]
    for title, lines in parts:
        text.append(f"{title} ({len(lines)})")
        text += [f"  - {line}" for line in lines[:MAX_LINES]]
        if len(lines) > MAX_LINES:
            text.append(f"  ... and {len(lines) - MAX_LINES} more in Greendoor")
        text.append("")
    return subject, "\n".join(text).rstrip() + "\n", items


def queue(engine: Engine, as_of: dt.date, since: dt.date | None = None) -> int:
    """Write the day's digests (one per recipient, channel and day) for what happened since
    ``since`` (default the day before); returns how many were queued (0 when they already
    were). Raises :class:`NotifyError` when nothing is configured."""
    since = since or as_of - dt.timedelta(days=1)
    nt = schema.notifications
    with engine.begin() as conn:
        settings = S.current(conn)[1]
        who = recipients(conn, settings)
        if not who:
            raise NotifyError("no notification channel is on: enable e-mail (with smtp_host "
                              "and users whose user name is an e-mail address, or team_email) "
                              "or the webhook in the settings (notifications)")
        done = {(r[0], r[1]) for r in conn.execute(sa.select(nt.c.recipient, nt.c.channel)
                                                   .where(nt.c.day == as_of))}
        now, queued = _now(), 0
        cache: dict = {}
        for r in who:
            if (r.address, r.channel) in done:
                continue
            if r.owner not in cache:
                cache[r.owner] = digest(conn, as_of, since, r.owner, settings)
            subject, body, _ = cache[r.owner]
            conn.execute(nt.insert().values(
                notification_id=new_id(), day=as_of, recipient=r.address, channel=r.channel,
                subject=subject, body=body, status="pending", attempts=0, created_at=now))
            queued += 1
    return queued


@dataclasses.dataclass
class Delivery:
    """What :func:`send_pending` did: ``sent`` and ``failed`` as (recipient, channel,
    day, error) tuples."""

    sent: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        lines = [f"sent {len(self.sent)} digest(s), {len(self.failed)} failed"]
        lines += [f"  failed: {c} to {r} ({d}): {e}; kept, retried on the next run"
                  for r, c, d, e in self.failed]
        return "\n".join(lines)


def send_pending(engine: Engine) -> Delivery:
    """Deliver every digest not yet sent (oldest first) with the current settings; each
    outcome is written (status, attempts, error) and audited in its own transaction."""
    nt = schema.notifications
    with engine.connect() as conn:
        n = S.current(conn)[1]["notifications"]
        rows = conn.execute(sa.select(nt).where(nt.c.status != "sent")
                            .order_by(nt.c.day, nt.c.created_at)).mappings().all()
    out = Delivery()
    for row in rows:
        try:
            _deliver(row, n)
        except (OSError, smtplib.SMTPException, urllib.error.URLError, NotifyError) as exc:
            error = _words(exc, row["channel"], n)
            _record(engine, row, "failed", error)
            out.failed.append((row["recipient"], row["channel"], row["day"], error))
        else:
            _record(engine, row, "sent", None)
            out.sent.append((row["recipient"], row["channel"], row["day"], None))
    return out


def run(engine: Engine, as_of: dt.date, since: dt.date | None = None) -> tuple[int, Delivery]:
    """:func:`queue` today's digests, then :func:`send_pending` every undelivered one."""
    return queue(engine, as_of, since), send_pending(engine)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _deliver(row, n: dict) -> None:
    if row["channel"] == "email":
        if not n["email_enabled"]:
            raise NotifyError("e-mail is now off in the settings")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = n["email_from"], row["recipient"], row["subject"]
        msg.set_content(row["body"])
        with smtplib.SMTP(n["smtp_host"], n["smtp_port"], timeout=n["timeout_seconds"]) as smtp:
            if n["smtp_starttls"]:
                smtp.starttls()
            if n["smtp_user"]:
                smtp.login(n["smtp_user"], os.environ.get(SMTP_PASSWORD_ENV, ""))
            smtp.send_message(msg)
        return
    if not n["webhook_enabled"]:
        raise NotifyError("the webhook is now off in the settings")
    req = urllib.request.Request(n["webhook_url"], method="POST",
                                 data=json.dumps({"text": row["body"]}).encode("utf-8"),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=n["timeout_seconds"]) as resp:  # noqa: S310
        if resp.status >= 300:
            raise NotifyError(f"the webhook answered HTTP {resp.status}")


def _words(exc: BaseException, channel: str, n: dict) -> str:
    """A failure in words, naming the server."""
    where = (f"SMTP server {n['smtp_host']}:{n['smtp_port']}" if channel == "email"
             else f"webhook {n['webhook_url']}")
    if isinstance(exc, urllib.error.HTTPError):
        return f"{where} answered HTTP {exc.code} {exc.reason}"
    if isinstance(exc, (socket.gaierror,)):
        return f"{where}: host not found ({exc})"
    if isinstance(exc, (ConnectionRefusedError, TimeoutError, socket.timeout)):
        return f"{where} is unreachable ({exc.__class__.__name__}: {exc})"
    if isinstance(exc, urllib.error.URLError):
        return f"{where} is unreachable ({exc.reason})"
    return f"{where}: {exc}"


def _record(engine: Engine, row, status: str, error: str | None) -> None:
    nt = schema.notifications
    with engine.begin() as conn:
        conn.execute(nt.update().where(nt.c.notification_id == row["notification_id"]).values(
            status=status, attempts=row["attempts"] + 1, last_error=error,
            sent_at=_now() if status == "sent" else None))
        audit.record(conn, "notify", f"notify.{status}", "notifications", row["notification_id"],
                     after={"recipient": row["recipient"], "channel": row["channel"],
                            "day": str(row["day"]), "error": error})
