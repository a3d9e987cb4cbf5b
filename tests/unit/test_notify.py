"""Notifications that leave the screen (issue 19): the daily digest reaches a local SMTP
server and a local webhook, once a day; a failing server gives a clear error and the
digest is kept and delivered on the next run; bad settings are refused in words."""

import copy
import datetime as dt
import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from greendoor import notify
from greendoor import settings as S
from greendoor import users as U
from greendoor.cli import main
from greendoor.periods import default_as_of
from greendoor.store import schema
from tests.conftest import two_largest_books


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """A local SMTP server (aiosmtpd) on 127.0.0.1; yields (port, received messages)."""
    from aiosmtpd.controller import Controller

    got: list = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
            got.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    port = _free_port()
    ctl = Controller(Keep(), hostname="127.0.0.1", port=port)
    ctl.start()
    yield port, got
    ctl.stop()


@pytest.fixture
def webhook():
    """A local HTTP server taking POSTs; yields (url, received JSON bodies, status setter)."""
    got: list = []
    status = {"code": 200}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got, status
    server.shutdown()


def _configure(eng, **notifications):
    with eng.connect() as conn:
        cur = copy.deepcopy(S.current(conn)[1])
    cur["notifications"].update(notifications)
    S.save(eng, cur, "admin")


def _as_of(eng):
    with eng.connect() as conn:
        return default_as_of(conn)


def test_nothing_is_sent_until_a_channel_is_on(scored_store_copy):
    _, eng = scored_store_copy
    with pytest.raises(notify.NotifyError, match="no notification channel is on"):
        notify.run(eng, _as_of(eng))
    with eng.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(
            schema.notifications)).scalar() == 0


def test_digests_reach_the_smtp_server_and_the_webhook_once_a_day(scored_store_copy, smtp,
                                                                   webhook):
    _, eng = scored_store_copy
    port, mails = smtp
    url, posts, _ = webhook
    _, mine, _other = two_largest_books(eng)
    U.add_user(eng, "ana@example.com", "csm", "pw-ana-12345!", book=mine)
    _configure(eng, email_enabled=True, smtp_host="127.0.0.1", smtp_port=port,
               team_email="cs-team@example.com", webhook_enabled=True, webhook_url=url)
    as_of = _as_of(eng)
    queued, delivery = notify.run(eng, as_of, since=as_of - dt.timedelta(days=7))
    assert queued == 3 and not delivery.failed and len(delivery.sent) == 3
    to = sorted(m["To"] for m in mails)
    assert to == ["ana@example.com", "cs-team@example.com"]
    ana = next(m for m in mails if m["To"] == "ana@example.com")
    body = ana.get_payload()
    assert ana["Subject"].startswith("Greendoor daily digest") and f"{mine}'s book" in body
    for section in ("New alerts", "Renewals entering a window", "Overdue actions"):
        assert section in body
    # a csm's digest names only accounts of their own book; the team's names every book
    lines = [ln for ln in body.splitlines() if ln.startswith("  - ")]
    assert lines and all(ln[4:].split(":")[0] in _book_names(eng, mine) for ln in lines)
    team = next(m for m in mails if m["To"] == "cs-team@example.com").get_payload()
    assert len([ln for ln in team.splitlines() if ln.startswith("  - ")]) >= len(lines)
    assert len(posts) == 1 and posts[0]["text"].startswith("Greendoor daily digest")
    # a second run the same day queues and sends nothing
    queued, again = notify.run(eng, as_of)
    assert queued == 0 and not again.sent and len(mails) == 2 and len(posts) == 1
    with eng.connect() as conn:
        audited = conn.execute(sa.select(sa.func.count()).select_from(schema.audit_log).where(
            schema.audit_log.c.action == "notify.sent")).scalar()
    assert audited == 3


def _book_names(eng, owner):
    with eng.connect() as conn:
        return {r[0] for r in conn.execute(sa.select(schema.accounts.c.name).where(
            schema.accounts.c.csm_owner == owner))}


def test_a_failing_server_keeps_the_digest_for_the_next_run(scored_store_copy, smtp, webhook):
    _, eng = scored_store_copy
    port, mails = smtp
    url, posts, status = webhook
    dead = _free_port()  # nothing listens there
    _configure(eng, email_enabled=True, smtp_host="127.0.0.1", smtp_port=dead,
               team_email="cs-team@example.com", webhook_enabled=True, webhook_url=url)
    status["code"] = 500
    as_of = _as_of(eng)
    queued, first = notify.run(eng, as_of)
    assert queued == 2 and not first.sent and len(first.failed) == 2
    errors = {c: e for _, c, _, e in first.failed}
    assert f"SMTP server 127.0.0.1:{dead} is unreachable" in errors["email"]
    assert "answered HTTP 500" in errors["webhook"]
    assert "kept, retried on the next run" in first.summary()
    with eng.connect() as conn:
        kept = conn.execute(sa.select(schema.notifications.c.status,
                                      schema.notifications.c.attempts)).all()
    assert sorted(kept) == [("failed", 1), ("failed", 1)]
    # the servers are back: the next run delivers the same digests, queues no new one
    _configure(eng, smtp_port=port)
    status["code"] = 200
    queued, second = notify.run(eng, as_of)
    assert queued == 0 and len(second.sent) == 2 and not second.failed
    assert [m["To"] for m in mails] == ["cs-team@example.com"] and len(posts) == 2
    with eng.connect() as conn:
        done = conn.execute(sa.select(schema.notifications.c.status,
                                      schema.notifications.c.attempts)).all()
    assert sorted(done) == [("sent", 2), ("sent", 2)]


def test_the_command_says_what_failed_and_exits_non_zero(scored_store_copy, capsys):
    url, eng = scored_store_copy
    _configure(eng, email_enabled=True, smtp_host="smtp.invalid", smtp_port=_free_port(),
               team_email="cs-team@example.com")
    eng.dispose()
    assert main(["--db-url", url, "notify"]) == 1
    out = capsys.readouterr().out
    assert "queued 1 digest(s)" in out and "SMTP server smtp.invalid" in out
    assert "retried on the next run" in out


@pytest.mark.parametrize("bad, words", [
    ({"webhook_url": "ftp://example.com/x"}, "notifications.webhook_url"),
    ({"smtp_port": "twenty-five"}, "notifications.smtp_port"),
    ({"email_enabled": True}, "smtp_host is empty"),
    ({"email_from": "not an address"}, "notifications.email_from"),
])
def test_bad_notification_settings_are_refused_in_words(scored_store_copy, bad, words):
    _, eng = scored_store_copy
    with pytest.raises(S.SettingsError, match=words.replace(".", r"\.")):
        _configure(eng, **bad)
    with eng.connect() as conn:  # nothing was saved
        assert S.current(conn)[1]["notifications"]["webhook_url"] == ""
