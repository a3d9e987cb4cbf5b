"""Who may read and do what: principals, roles and the checks the library runs.

Roles (least privilege; SPEC.md "Non-functional", seeds NFR-2):

========  ==================================================================
viewer    reads every account; personal data (account and contact names,
          e-mails) masked; no actions
csm       reads and acts on the accounts of their own book only (``book`` =
          the ``accounts.csm_owner`` value); cannot reassign owners
manager   reads and acts on every account, reassigns owners
admin     manager's rights plus import, settings, users, audit log, privacy
          requests and restores
========  ==================================================================

The checks live here and are called by the library's read and write functions
(:mod:`greendoor.actions`, :mod:`greendoor.account360`, :mod:`greendoor.settings`,
:mod:`greendoor.audit`, :mod:`greendoor.ingest`, :mod:`greendoor.privacy`), not
only by the pages: a page that forgot to hide a button still cannot write, and a
csm who edits ``?account=`` or ``?owner=`` in the URL is refused.

Portfolio read models take :class:`~greendoor.periods.Filters`; the app builds
them with :func:`scope`, which pins a csm to their own book and refuses another
owner's. A plain string ``actor`` (the command line, scoring, tests) is the
trusted local operator, as in authentication mode ``none``.
"""

from __future__ import annotations

import dataclasses
from typing import Union

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.store import schema

ROLES: tuple[str, ...] = ("viewer", "csm", "manager", "admin")

#: What each role may do. ``read`` = see data, ``act`` = write actions on an account
#: in scope, ``all_accounts`` = scope is every account, ``reassign`` = change an
#: account's CSM owner, ``approve`` = decide on submitted success plans, ``admin`` = import, settings, users, audit log, privacy.
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read", "all_accounts"}),
    "csm": frozenset({"read", "act"}),
    "manager": frozenset({"read", "act", "all_accounts", "reassign", "approve"}),
    "admin": frozenset({"read", "act", "all_accounts", "reassign", "approve", "admin"}),
}

WHAT = {"read": "read data", "act": "act on accounts", "reassign": "reassign account owners",
        "approve": "approve or reject success plans",
        "admin": "administer Greendoor (import, settings, users, audit log)"}


class AccessDenied(PermissionError):
    """The principal may not read or do this; nothing was read or written."""


@dataclasses.dataclass(frozen=True)
class Principal:
    """The signed-in user (hashable, so cached loaders can key on it).

    ``username`` is what the audit log records; ``book`` is the CSM owner name whose
    accounts a csm may see (``None`` for other roles)."""

    username: str
    role: str
    book: str | None = None
    display_name: str | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; one of {', '.join(ROLES)}")

    def can(self, permission: str) -> bool:
        """Whether this principal's role holds ``permission`` (a key of :data:`PERMISSIONS`)."""
        return permission in PERMISSIONS[self.role]

    @property
    def masks_pii(self) -> bool:
        """Viewers see pseudonyms instead of account and contact names and e-mails."""
        return self.role == "viewer"

    @property
    def display(self) -> str:
        """The display name, else the user name."""
        return self.display_name or self.username

    @property
    def label(self) -> str:
        """``"Display name (role)"`` for the sidebar and the audit log."""
        return f"{self.display} ({self.role})"


#: The single local user of authentication mode ``none`` (and of the command line).
LOCAL_ADMIN = Principal("local", "admin", display_name="Local user")

Actor = Union[str, Principal]  # noqa: UP007 - used at runtime in isinstance checks


def require(principal: Principal, permission: str) -> None:
    """Raise :class:`AccessDenied` unless ``principal`` has ``permission``."""
    if not principal.can(permission):
        raise AccessDenied(f"{principal.label} may not {WHAT.get(permission, permission)}")


def _book(principal: Principal):
    """The WHERE condition on ``accounts`` of the principal's scope, or ``None`` when
    they see every account. A csm without a book is refused rather than matched to
    the accounts without an owner."""
    require(principal, "read")
    if principal.can("all_accounts"):
        return None
    if not principal.book:
        raise AccessDenied(f"{principal.label} has no book of business assigned; an admin "
                           "sets it with `greendoor users set-role USER csm --book NAME`")
    return schema.accounts.c.csm_owner == principal.book


def in_scope(conn: Connection, principal: Principal, account_id: str) -> bool:
    """Whether the account is in the principal's scope (a csm's own book).
    An unknown account is out of a csm's scope."""
    cond = _book(principal)
    if cond is None:
        return True
    a = schema.accounts
    return conn.execute(sa.select(a.c.account_id).where(
        a.c.account_id == str(account_id), cond)).first() is not None


def check_account(conn: Connection, principal: Principal, account_id: str,
                  permission: str = "read") -> None:
    """Raise :class:`AccessDenied` unless ``principal`` has ``permission`` and the
    account is in their scope."""
    require(principal, permission)
    if not in_scope(conn, principal, account_id):
        raise AccessDenied(f"account {str(account_id)[:80]!r} is not in the book of "
                           f"{principal.label}")


def actor_name(actor: Actor, permission: str) -> str:
    """The audit name of ``actor`` after checking it has ``permission`` (for writes
    not tied to one account: import, settings, users, rescoring). Strings are the
    trusted local operator."""
    if isinstance(actor, Principal):
        require(actor, permission)
        return actor.username
    return str(actor)


def authorize(conn: Connection, actor: Actor, permission: str, account_id: str) -> str:
    """The audit name of ``actor`` after checking it may do ``permission`` on
    ``account_id``. Strings are the trusted local operator."""
    if isinstance(actor, Principal):
        check_account(conn, actor, account_id, permission)
    return actor_name(actor, permission)


def scope(principal: Principal, filters):
    """The :class:`~greendoor.periods.Filters` this principal may see: a csm is
    pinned to their own book (``owner``); asking for another owner's book raises
    :class:`AccessDenied`. Other roles get ``filters`` unchanged."""
    if _book(principal) is None:
        return filters
    if filters.owner not in (None, principal.book):
        raise AccessDenied(f"{principal.label} may only see the book of {principal.book!r}, "
                           f"not {str(filters.owner)[:80]!r}")
    return dataclasses.replace(filters, owner=principal.book)


def account_clause(principal: Principal | None, account_col):
    """A WHERE condition limiting ``account_col`` to the principal's scope, or ``None``
    when the principal sees every account (or is ``None``: the local operator)."""
    cond = None if principal is None else _book(principal)
    if cond is None:
        return None
    return account_col.in_(sa.select(schema.accounts.c.account_id).where(cond))


def visible_accounts(conn: Connection, principal: Principal) -> dict[str, str]:
    """Account id -> name of the accounts in the principal's scope, by name."""
    a = schema.accounts
    q = sa.select(a.c.account_id, a.c.name).order_by(a.c.name)
    if (cond := _book(principal)) is not None:
        q = q.where(cond)
    return dict(conn.execute(q).all())


def pseudonym_label(rank: int) -> str:
    """"Account 0042" for the 42nd account id in sort order: the pseudonym rule of
    the viewer role and of presentation mode."""
    return f"Account {rank:04d}"


def pseudonym(conn: Connection, account_id: str) -> str:
    """The stable pseudonym of one account (:func:`pseudonym_label` of its rank)."""
    a = schema.accounts
    rank = conn.execute(sa.select(sa.func.count()).where(a.c.account_id < str(account_id))).scalar()
    return pseudonym_label(int(rank) + 1)


def mask_contacts(df):
    """A copy of a contacts-like frame with ``name`` ("Contact 1", ...), ``email`` and
    ``phone`` masked (for a viewer, and in presentation mode)."""
    if df is None or len(df) == 0:
        return df
    out = df.copy()
    if "name" in out:
        out["name"] = [f"Contact {i + 1}" for i in range(len(out))]
    for col in ("email", "phone"):
        if col in out:
            out[col] = "hidden"
    return out
