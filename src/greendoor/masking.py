"""Masking for a shared screen (presentation mode) and for roles that must not see
customer names (viewer): every account name, contact name and e-mail address in a
read model's output is replaced, wherever it appears, including free text that
contains it (action titles and notes, audit before/after JSON, alert titles, chart
hover labels built from those frames).

:class:`Masker` is built once per data version from the store (:func:`masker`) and
applied to whatever a read model returns (:meth:`Masker.apply`): frames, series,
dicts, lists, strings and dataclasses (e.g. :class:`greendoor.account360.Account360`).
Finding every name in free text is a multi-pattern search (Aho-Corasick, by the
maintained ``ahocorasick-rs``), so masking a table of 100,000 cells against thousands
of names stays linear in the text.

Pseudonyms are stable: an account is "Account 0042" when its id is the 42nd in sort
order (:func:`greendoor.access.pseudonym_label`, the same rule everywhere), a contact
"Contact 0007" by the rank of its contact id, an e-mail address "hidden".
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ahocorasick_rs as ac
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.access import pseudonym_label
from greendoor.store import schema

#: Names shorter than this are not searched for in free text (a two-letter name would
#: mask ordinary words); the columns that hold names are still masked by id.
MIN_NAME_LENGTH = 3
#: What an e-mail address becomes.
HIDDEN = "hidden"
#: Columns that hold an account's name next to its id.
ACCOUNT_NAME_COLUMNS = ("name", "account_name", "account")
#: Columns that hold a contact's own data next to its id.
CONTACT_COLUMNS = ("email", "phone")


def contact_label(rank: int) -> str:
    """"Contact 0007" for the 7th contact id in sort order."""
    return f"Contact {rank:04d}"


@dataclasses.dataclass(frozen=True)
class Masker:
    """Replaces the store's account names, contact names and e-mail addresses.

    ``accounts``: account id -> pseudonym; ``contacts``: contact id -> pseudonym;
    ``replacements``: (real text, pseudonym) pairs searched for in free text."""

    accounts: dict[str, str]
    contacts: dict[str, str]
    replacements: tuple[tuple[str, str], ...]
    _search: Any = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, accounts: dict[str, str], contacts: pd.DataFrame | None = None,
              staff: set[str] | frozenset[str] = frozenset()) -> Masker:
        """From account id -> name, a contacts frame (``contact_id, name, email``) and the
        names of the team's own people (``staff``: CSM owners, users), which stay visible:
        a customer contact who shares a CSM's name is masked in the contacts table, not
        wherever that name appears."""
        acc_labels = {a: pseudonym_label(i + 1) for i, a in enumerate(sorted(accounts))}
        pairs: dict[str, str] = {}
        for a, name in accounts.items():
            if isinstance(name, str) and len(name.strip()) >= MIN_NAME_LENGTH:
                pairs[name.strip()] = acc_labels[a]
        con_labels: dict[str, str] = {}
        if contacts is not None and len(contacts):
            ids = sorted(contacts["contact_id"].astype(str))
            con_labels = {c: contact_label(i + 1) for i, c in enumerate(ids)}
            for row in contacts.itertuples(index=False):
                label = con_labels[str(row.contact_id)]
                name, email = getattr(row, "name", None), getattr(row, "email", None)
                if (isinstance(name, str) and len(name.strip()) >= MIN_NAME_LENGTH
                        and name.strip() not in staff):
                    pairs.setdefault(name.strip(), label)
                if isinstance(email, str) and "@" in email:
                    pairs[email.strip()] = HIDDEN
        reps = tuple(sorted(pairs.items(), key=lambda p: (-len(p[0]), p[0])))
        search = ac.AhoCorasick([r for r, _ in reps], matchkind=ac.MatchKind.LeftmostLongest) \
            if reps else None
        return cls(accounts=acc_labels, contacts=con_labels, replacements=reps, _search=search)

    def text(self, s):
        """``s`` with every known name and address replaced (anything not a string as is)."""
        if not isinstance(s, str) or self._search is None or not s:
            return s
        found = self._search.find_matches_as_indexes(s)
        if not found:
            return s
        out, at = [], 0
        for k, start, end in found:
            out += [s[at:start], self.replacements[k][1]]
            at = end
        out.append(s[at:])
        return "".join(out)

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with names masked: name columns beside an ``account_id`` or
        ``entity_id`` by the id's pseudonym, contact columns beside a ``contact_id``,
        ``email``/``phone`` hidden, and every text column (hidden ones too: they reach
        the browser) searched for names."""
        if df is None or len(df) == 0:
            return df
        out = df.copy()
        for col in out.columns:
            if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
                out[col] = out[col].map(self.text, na_action="ignore")
        if isinstance(out.index, pd.Index) and out.index.dtype == object:
            out.index = out.index.map(lambda v: self.text(v) if isinstance(v, str) else v)
        ids = out["account_id"] if "account_id" in out else None
        if "contact_id" in out:
            labels = out["contact_id"].astype(str).map(self.contacts)
            if "name" in out:
                out["name"] = labels.fillna(contact_label(0))
        elif ids is not None:
            labels = ids.map(self.accounts)
            for col in ACCOUNT_NAME_COLUMNS:
                if col in out:
                    out[col] = labels.where(labels.notna(), out[col])
        for col in CONTACT_COLUMNS:
            if col in out:
                out[col] = out[col].where(out[col].isna(), HIDDEN)
        return out

    def apply(self, obj):
        """``obj`` with names masked, whatever it is: a frame, series, dict, list, tuple,
        string or dataclass (recursively); anything else unchanged."""
        if isinstance(obj, pd.DataFrame):
            return self.frame(obj)
        if isinstance(obj, pd.Series):
            if obj.dtype == object or pd.api.types.is_string_dtype(obj):
                return obj.map(self.text, na_action="ignore")
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            masked = {k: self.apply(v) for k, v in obj.items()}
            if "account_id" in masked and "name" in masked:
                masked["name"] = self.accounts.get(masked["account_id"], masked["name"])
            return masked
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.apply(v) for v in obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.replace(obj, **{f.name: self.apply(getattr(obj, f.name))
                                               for f in dataclasses.fields(obj) if f.init})
        return obj


def masker(conn: Connection) -> Masker:
    """The :class:`Masker` of the store's current accounts and contacts; the CSM owners
    and the users' display names are the team's own and stay visible."""
    a, c, u = schema.accounts, schema.contacts, schema.users
    accounts = dict(conn.execute(sa.select(a.c.account_id, a.c.name)).all())
    contacts = pd.read_sql(sa.select(c.c.contact_id, c.c.name, c.c.email), conn)
    staff = {r[0] for r in conn.execute(sa.select(a.c.csm_owner).distinct()) if r[0]}
    staff |= {r[0] for r in conn.execute(sa.select(u.c.display_name)) if r[0]}
    return Masker.build(accounts, contacts, staff)
