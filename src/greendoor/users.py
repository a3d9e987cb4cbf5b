"""Local users, password sign-in with lockout, and single-sign-on mapping.

Passwords are hashed with **argon2id** through ``argon2-cffi``
(:class:`argon2.PasswordHasher`, its default parameters: RFC 9106 "low memory"
profile); only the hash is stored (table ``users``). After
:data:`MAX_FAILED_LOGINS` wrong passwords in a row an account is locked for
:data:`LOCKOUT_MINUTES`; a correct password while locked is refused too.

Every change is written with an audit-log row in the same transaction:
``user.add``, ``user.remove``, ``user.set_role``, ``user.set_password``,
``login``, ``login.failed`` and ``login.locked`` (SPEC.md "Actions" / issue
"Access control": logins and failed logins are audited). Only admins (or the local
operator: a plain string actor) manage users.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import time

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection, Engine

from greendoor import access, audit
from greendoor.access import ROLES, Actor, Principal
from greendoor.store import meta, schema

#: Authentication modes (environment variable ``GREENDOOR_AUTH``).
AUTH_ENV = "GREENDOOR_AUTH"
AUTH_MODES = ("none", "password", "oidc")
MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
MIN_PASSWORD_LENGTH = 10
MAX_FIELD = 200

_HASHER = PasswordHasher()
# Verified against when the user does not exist, so an unknown name takes as long
# as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash("greendoor-no-such-user")


class UserError(ValueError):
    """Invalid user input (unknown role, short password, duplicate user...); nothing written."""


class LoginFailed(PermissionError):
    """Wrong user name or password, or the account is locked. The message never says
    which of name or password was wrong."""


def auth_mode() -> str:
    """The configured authentication mode: ``none`` (default), ``password`` or ``oidc``.
    Raises ``ValueError`` naming the variable for any other value."""
    mode = os.environ.get(AUTH_ENV, "none").strip().lower() or "none"
    if mode not in AUTH_MODES:
        raise ValueError(f"{AUTH_ENV}={mode!r} is not one of {', '.join(AUTH_MODES)}")
    return mode


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def normalize(username: str) -> str:
    """User names are case-insensitive and trimmed; at most 200 characters."""
    name = str(username or "").strip().lower()
    if not name:
        raise UserError("user name is required")
    if len(name) > MAX_FIELD:
        raise UserError(f"user name is longer than {MAX_FIELD} characters")
    return name


def _check_role(role: str, book: str | None) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {str(role)[:40]!r}")
    if role == "csm" and not (book and str(book).strip()):
        raise UserError("a csm needs a book: the CSM owner name of their accounts (--book)")


def _check_password(password: str | None) -> None:
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def _audit(conn: Connection, actor: str, action: str, username: str, before=None, after=None):
    audit.record(conn, actor, action, "users", username, before, after)


def _public(row) -> dict:
    return {"role": row["role"], "book": row["book"], "display_name": row["display_name"]}


def _get(conn: Connection, username: str):
    u = schema.users
    return conn.execute(sa.select(u).where(u.c.username == username)).mappings().first()


def _existing(conn: Connection, username: str):
    """The user's row; :class:`UserError` when there is none."""
    row = _get(conn, username)
    if row is None:
        raise UserError(f"no user {username!r}")
    return row


def add_user(engine: Engine, username: str, role: str, password: str | None = None,
             book: str | None = None, display_name: str | None = None,
             actor: Actor = "cli") -> str:
    """Create a user. ``password`` may be ``None`` for a single-sign-on-only user
    (``username`` is then their e-mail). Returns the normalized user name.
    Raises :class:`UserError` (bad input, existing user) or
    :class:`~greendoor.access.AccessDenied` (actor is not an admin)."""
    name = normalize(username)
    _check_role(role, book)
    _check_password(password)
    book = str(book).strip()[:MAX_FIELD] if book else None
    display_name = str(display_name).strip()[:MAX_FIELD] if display_name else None
    with engine.begin() as conn:
        who = access.actor_name(actor, "admin")
        if _get(conn, name) is not None:
            raise UserError(f"user {name!r} already exists")
        conn.execute(schema.users.insert().values(
            username=name, role=role, book=book if role == "csm" else None,
            display_name=display_name,
            password_hash=_HASHER.hash(password) if password is not None else None,
            failed_logins=0, created_at=_now()))
        _audit(conn, who, "user.add", name,
               after={"role": role, "book": book if role == "csm" else None,
                      "display_name": display_name, "password": password is not None})
    return name


def remove_user(engine: Engine, username: str, actor: Actor = "cli") -> None:
    """Delete a user (their audit rows stay). Raises :class:`UserError` if unknown."""
    name = normalize(username)
    with engine.begin() as conn:
        who = access.actor_name(actor, "admin")
        row = _existing(conn, name)
        if isinstance(actor, Principal) and actor.username == name:
            raise UserError("you cannot remove yourself")
        conn.execute(schema.users.delete().where(schema.users.c.username == name))
        _audit(conn, who, "user.remove", name, before=_public(row))


def set_role(engine: Engine, username: str, role: str, book: str | None = None,
             actor: Actor = "cli") -> None:
    """Change a user's role (and a csm's book; ``book=None`` keeps the current one)."""
    name = normalize(username)
    with engine.begin() as conn:
        who = access.actor_name(actor, "admin")
        row = _existing(conn, name)
        book = book if book is not None else row["book"]
        _check_role(role, book)
        after = {"role": role, "book": str(book).strip()[:MAX_FIELD] if role == "csm" else None,
                 "display_name": row["display_name"]}
        conn.execute(schema.users.update().where(schema.users.c.username == name).values(
            role=role, book=after["book"], updated_at=_now()))
        _audit(conn, who, "user.set_role", name, before=_public(row), after=after)


def set_password(engine: Engine, username: str, password: str, actor: Actor = "cli") -> None:
    """Set a new password and clear any lockout."""
    name = normalize(username)
    _check_password(password)
    if password is None:
        raise UserError("password is required")
    with engine.begin() as conn:
        who = access.actor_name(actor, "admin")
        _existing(conn, name)
        conn.execute(schema.users.update().where(schema.users.c.username == name).values(
            password_hash=_HASHER.hash(password), failed_logins=0, locked_until=None,
            updated_at=_now()))
        _audit(conn, who, "user.set_password", name)


def list_users(conn: Connection, principal: Principal | None = None) -> pd.DataFrame:
    """``username, role, book, display_name, has_password, failed_logins, locked_until,
    last_login_at, created_at`` — never the hashes. Admins only (a non-admin
    ``principal`` gets :class:`~greendoor.access.AccessDenied`)."""
    if principal is not None:
        access.require(principal, "admin")
    u = schema.users
    df = pd.read_sql(sa.select(u.c.username, u.c.role, u.c.book, u.c.display_name,
                               u.c.password_hash.is_not(None).label("has_password"),
                               u.c.failed_logins, u.c.locked_until, u.c.last_login_at,
                               u.c.created_at).order_by(u.c.username), conn)
    return df


def user_count(conn: Connection) -> int:
    """Number of users in the store (any status)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(schema.users)).scalar())


def _principal(row) -> Principal:
    return Principal(row["username"], row["role"], row["book"], row["display_name"])


def _verify(row, password: str, now: dt.datetime) -> str:
    """The outcome of one password check against the user's ``row`` (``None``: no such
    user), before anything is written: ``unknown``, ``no password``, ``locked``,
    ``wrong password`` or ``ok``. Takes the same argon2 work in every case, so the
    time it takes does not tell whether the user exists or is locked."""
    if row is None or row["password_hash"] is None:
        try:  # same work as a real check
            _HASHER.verify(_DUMMY_HASH, password + "x")
        except VerificationError:
            pass
        return "unknown user" if row is None else "no password"
    try:
        ok = _HASHER.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        ok = False
    if row["locked_until"] is not None and row["locked_until"] > now:
        return "locked"
    return "ok" if ok else "wrong password"


def _record_login(conn: Connection, row, name: str, outcome: str, password: str,
                  now: dt.datetime) -> bool:
    """Write one sign-in's counters and audit rows; ``True`` when it succeeded.

    The counter and the lock change in one ``UPDATE ... RETURNING`` that reads the
    stored values (never a value read earlier in Python), so parallel wrong passwords
    each count: the :data:`MAX_FAILED_LOGINS`-th locks the user, whatever the order.
    A correct password is accepted only if the row is still unlocked at that moment."""
    u = schema.users
    if outcome in ("unknown user", "no password", "locked"):
        after = {"reason": outcome}
        if outcome == "locked":
            after["locked_until"] = row["locked_until"]
        _audit(conn, name, "login.failed", name, after=after)
        return False
    if outcome == "wrong password":
        # a lock that has run out starts a new count
        expired = sa.and_(u.c.locked_until.is_not(None), u.c.locked_until <= now)
        failures = sa.case((expired, 1), else_=sa.func.coalesce(u.c.failed_logins, 0) + 1)
        lock_at = sa.case((failures >= MAX_FAILED_LOGINS,
                           sa.literal(now + dt.timedelta(minutes=LOCKOUT_MINUTES), sa.DateTime)),
                          else_=sa.case((expired, None), else_=u.c.locked_until))
        new = conn.execute(u.update().where(u.c.username == name)
                           .values(failed_logins=failures, locked_until=lock_at)
                           .returning(u.c.failed_logins, u.c.locked_until)).one()
        _audit(conn, name, "login.failed", name,
               after={"reason": "wrong password", "failed_logins": new.failed_logins})
        if new.failed_logins == MAX_FAILED_LOGINS:
            _audit(conn, name, "login.locked", name, after={"locked_until": new.locked_until})
        return False
    values = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _HASHER.check_needs_rehash(row["password_hash"]):
        values["password_hash"] = _HASHER.hash(password)
    done = conn.execute(u.update().where(u.c.username == name).where(
        sa.or_(u.c.locked_until.is_(None), u.c.locked_until <= now)).values(**values)).rowcount
    if not done:  # locked by a parallel attempt after the row was read
        _audit(conn, name, "login.failed", name, after={"reason": "locked"})
        return False
    _audit(conn, name, "login", name, after={"method": "password", "role": row["role"]})
    return True


#: Attempts at writing one sign-in when the embedded store reports a write conflict
#: (DuckDB refuses concurrent updates of one row instead of waiting).
LOGIN_WRITE_ATTEMPTS = 50


def _is_conflict(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "conflict" in text or "could not serialize" in text or "deadlock" in text


def authenticate(engine: Engine, username: str, password: str,
                 now: dt.datetime | None = None) -> Principal:
    """Check a password; return the :class:`~greendoor.access.Principal` or raise
    :class:`LoginFailed` with one message for every failure (unknown user, wrong
    password, locked), so the answer never tells whether a name exists or is locked;
    the audit log and the user list tell admins. Audits ``login`` or ``login.failed``
    (with the attempt count and reason) and locks the user for :data:`LOCKOUT_MINUTES`
    at the :data:`MAX_FAILED_LOGINS`-th failure in a row (``login.locked``), counting
    parallel attempts exactly (:func:`_record_login`). A write conflict on the embedded
    store is retried, never shown as an unreachable store."""
    now = now or _now()
    try:
        name = normalize(username)
    except UserError:
        raise LoginFailed("wrong user name or password") from None
    password = str(password or "")
    with engine.connect() as conn:
        row = _get(conn, name)
    outcome = _verify(row, password, now)
    delay = 0.005
    for attempt in range(LOGIN_WRITE_ATTEMPTS):
        try:
            # The failure's audit row and counter must commit, so the error is raised
            # after the transaction rather than inside it (which would roll them back).
            with engine.begin() as conn:
                ok = _record_login(conn, row, name, outcome, password, now)
            break
        except sa.exc.DBAPIError as exc:
            if not _is_conflict(exc) or attempt == LOGIN_WRITE_ATTEMPTS - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    if not ok:
        raise LoginFailed("wrong user name or password")
    return _principal(row)


def sso_principal(engine: Engine, email: str | None) -> Principal:
    """The principal of a user signed in through single sign-on (``st.login``): the
    user whose name is the e-mail the identity provider returned. Raises
    :class:`LoginFailed` (and audits ``login.failed``) for an unknown e-mail: an
    admin must add people first (least privilege, no self-registration)."""
    try:
        name = normalize(email or "")
    except UserError:
        raise LoginFailed("the identity provider returned no e-mail address") from None
    with engine.begin() as conn:
        row = _get(conn, name)
        if row is None:  # audited, and committed before the error below
            _audit(conn, name, "login.failed", name, after={"method": "oidc",
                                                            "reason": "unknown user"})
        else:
            conn.execute(schema.users.update().where(schema.users.c.username == name)
                         .values(last_login_at=_now()))
            _audit(conn, name, "login", name, after={"method": "oidc", "role": row["role"]})
    if row is None:
        raise LoginFailed(f"{name} is not a Greendoor user yet: ask an admin to run "
                          f"`greendoor users add {name} --role viewer --no-password`")
    return _principal(row)


# --------------------------------------------------------------------------- #
# sessions that survive a reload
# --------------------------------------------------------------------------- #
#: How long a signed-in browser stays signed in without signing in again.
SESSION_HOURS = 8
_SECRET_KEY = "session_secret"


def _session_secret(engine: Engine) -> bytes:
    """The store's secret for signing sessions (made once, kept in ``store_meta``), so
    every app server on the store accepts the same sessions, and a new store none."""


    with engine.begin() as conn:
        secret = meta.get(conn, _SECRET_KEY)
        if secret is None:
            secret = secrets.token_hex(32)
            meta.set_many(conn, {_SECRET_KEY: secret})
    return bytes.fromhex(secret)


def _session_mac(secret: bytes, payload: str, password_hash: str | None) -> str:

    # the password hash is part of the message: a new password ends every session
    msg = f"{payload}|{password_hash or ''}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def session_token(engine: Engine, principal: Principal, now: dt.datetime | None = None,
                  hours: float = SESSION_HOURS) -> str:
    """A signed token for a browser cookie: ``payload.mac`` where the payload holds the
    user name and the expiry (UTC), and the MAC is HMAC-SHA256 with the store's secret
    over the payload and the user's password hash (so a new password, or a user
    removed, ends the session)."""

    now = now or _now()
    payload = base64.urlsafe_b64encode(json.dumps(
        {"u": principal.username, "exp": (now + dt.timedelta(hours=hours)).isoformat()}
    ).encode()).decode().rstrip("=")
    with engine.connect() as conn:
        row = _get(conn, principal.username)
    return f"{payload}.{_session_mac(_session_secret(engine), payload, row and row['password_hash'])}"


def session_principal(engine: Engine, token: str | None,
                      now: dt.datetime | None = None) -> Principal | None:
    """The principal of a valid, unexpired session token, or ``None`` (bad signature,
    expired, unknown or changed user). Never raises for a malformed token."""

    if not token or len(token) > 1_000 or token.count(".") != 1:
        return None
    payload, mac = token.split(".")
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        name, expires = str(data["u"]), dt.datetime.fromisoformat(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires <= (now or _now()):
        return None
    with engine.connect() as conn:
        row = _get(conn, name)
    if row is None:
        return None
    good = _session_mac(_session_secret(engine), payload, row["password_hash"])
    return _principal(row) if hmac.compare_digest(good, mac) else None
