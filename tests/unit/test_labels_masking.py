"""Words on screen (greendoor.labels) and the masking of names for a shared screen
(greendoor.masking), issue 18."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from greendoor.labels import human, money, percent
from greendoor.masking import HIDDEN, Masker


@pytest.mark.parametrize("value, text", [
    (1_234_567, "$1.2M"), (999_499, "$999K"), (999_500, "$1.0M"), (875_000, "$875K"),
    (999.4, "$999"), (999.5, "$1K"), (900, "$900"), (-35_000, "-$35K"), (-0.3, "$0"),
    (0, "$0"), (None, "—"), (float("nan"), "—")])
def test_money(value, text):
    assert money(value) == text


def test_percent_and_human():
    assert percent(0.253) == "25.3%" and percent(-0.0001) == "0.0%" and percent(None) == "—"
    assert percent(-0.05, 0) == "-5%"
    assert human("mid_market") == "Mid-market" and human("no_opportunity") != "no_opportunity"
    assert human(None) == "—" and human("reference_call") == "Reference call"
    # the field's acronyms stay capitals (a projector showed "Api" and "Ai insights")
    assert human("api") == "API" and human("ai_insights") == "AI insights"
    assert human("arr_change_90d") == "ARR change 90d" and human("said") == "Said"


@dataclasses.dataclass(frozen=True)
class _Card:
    account: dict
    notes: pd.DataFrame


def _masker() -> Masker:
    accounts = {"A2": "Acme Ventures Co", "A1": "Lantern Works Holdings", "A3": "Ox"}
    contacts = pd.DataFrame({"contact_id": ["C9", "C1"], "name": ["Jane Doe", "Bob Stone"],
                             "email": ["jane@acme.example", "bob@lantern.example"]})
    return Masker.build(accounts, contacts)


def test_masker_replaces_names_everywhere():
    """Pseudonyms by the rank of the id: A1 -> Account 0001, A2 -> Account 0002;
    contacts C1 -> Contact 0001, C9 -> Contact 0002; e-mails hidden; a name inside free
    text (an action title, an audit JSON) is found; the longest name wins; a two-letter
    name is left in free text (it would mask ordinary words) but not in its own column."""
    m = _masker()
    assert m.text('{"title": "Escalation: Acme Ventures Co"}') == \
        '{"title": "Escalation: Account 0002"}'
    assert m.text("Call Jane Doe (jane@acme.example) about Lantern Works Holdings") == \
        f"Call Contact 0002 ({HIDDEN}) about Account 0001"
    assert m.text("Oxford") == "Oxford" and m.text(None) is None
    frame = pd.DataFrame({"account_id": ["A3", "A2"], "name": ["Ox", "Acme Ventures Co"],
                          "title": ["Renewal: Ox", "QBR with Acme Ventures Co"],
                          "arr": [1.0, 2.0]})
    out = m.frame(frame)
    assert list(out["name"]) == ["Account 0003", "Account 0002"]
    assert list(out["title"]) == ["Renewal: Ox", "QBR with Account 0002"]
    assert frame.loc[1, "name"] == "Acme Ventures Co"  # the input is not changed
    contacts = m.frame(pd.DataFrame({"contact_id": ["C1"], "name": ["Bob Stone"],
                                     "email": ["bob@lantern.example"], "phone": ["+1 555"]}))
    assert contacts.iloc[0].tolist() == ["C1", "Contact 0001", HIDDEN, HIDDEN]


def test_masker_applies_to_nested_results():
    m = _masker()
    card = _Card(account={"account_id": "A1", "name": "Lantern Works Holdings"},
                 notes=pd.DataFrame({"what": ["Email to jane@acme.example"]}))
    out = m.apply({"card": card, "list": ["Acme Ventures Co", 3],
                   "series": pd.Series(["Bob Stone"])})
    assert out["card"].account["name"] == "Account 0001"
    assert out["card"].notes.iloc[0, 0] == f"Email to {HIDDEN}"
    assert out["list"] == ["Account 0002", 3] and out["series"].iloc[0] == "Contact 0001"
    assert m.apply(5) == 5


def test_a_contact_sharing_a_csm_name_is_masked_in_its_table_only():
    contacts = pd.DataFrame({"contact_id": ["C1"], "name": ["Ana Smith"], "email": [None]})
    m = Masker.build({"A1": "Acme Ventures Co"}, contacts, staff={"Ana Smith"})
    frame = m.frame(pd.DataFrame({"account_id": ["A1"], "csm_owner": ["Ana Smith"]}))
    assert frame.loc[0, "csm_owner"] == "Ana Smith"
    assert m.frame(contacts).loc[0, "name"] == "Contact 0001"
