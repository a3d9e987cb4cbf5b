"""Words for the codes the store holds, so that no page shows ``mid_market``,
``no_opportunity``, ``reference_call`` or ``data_import``.

:func:`human` turns any code into words (a known label, else the code with its
underscores as spaces and a capital first letter); the dictionaries below hold the
labels that differ from that rule.
"""

from __future__ import annotations

import math

LABELS: dict[str, str] = {
    # segments
    "enterprise": "Enterprise", "mid_market": "Mid-market", "smb": "SMB",
    # forecast categories and stages
    "best_case": "Best case", "no_opportunity": "No renewal opportunity",
    "closed_won": "Closed won", "closed_lost": "Closed lost", "contract_sent": "Contract sent",
    # advocacy
    "reference_call": "Reference call", "case_study": "Case study",
    # risk bases
    "health band": "Health band rule", "base rate": "Base rate", "model": "Model",
    # audit actions and action types
    "import": "Data import", "demo.load": "Demo loaded", "score.run": "Scoring run",
    "settings.create": "Settings created", "settings.update": "Settings changed",
    "store.restore": "Store restored", "subject.erase": "Personal data erased",
    "playbook_run": "Playbook run", "playbook_step": "Playbook step",
    "alert_snooze": "Alert snoozed", "advocacy_invite": "Advocacy invitation",
    "login.failed": "Failed sign-in", "login.locked": "Sign-in locked", "login": "Signed in",
    "user.add": "User added", "user.remove": "User removed", "user.set_role": "Role changed",
    "user.set_password": "Password set",
    # alert rules
    "renewal_30": "Renewal in 30 days", "renewal_60": "Renewal in 60 days",
    "renewal_90": "Renewal in 90 days", "renewal_120": "Renewal in 120 days",
    "proactive_checkin": "Proactive check-in", "tickets_spike": "Ticket spike",
    "false_positive": "False positive",
    # mention sources
    "x": "X", "linkedin": "LinkedIn", "g2": "G2", "reddit": "Reddit",
    # renewal date basis
    "contract": "From the contract's term", "stored": "Exported renewal date",
}


def human(code: object) -> str:
    """Words for a code: ``"mid_market"`` -> ``"Mid-market"``; ``None`` -> ``"—"``; each part
    of a compound segment: ``"mid_market · established"`` -> ``"Mid-market · Established"``;
    the field's acronyms in capitals (:data:`ACRONYMS`: ``"ai_insights"`` -> ``"AI
    insights"``)."""
    if code is None or (isinstance(code, float) and code != code):
        return "—"
    text = str(code)
    if text in LABELS:
        return LABELS[text]
    if " · " in text:  # a compound segment, "mid_market · established"
        return " · ".join(human(part) for part in text.split(" · "))
    words = " ".join(w.upper() if w.lower() in ACRONYMS else w
                     for w in text.replace("_", " ").replace(".", " ").split())
    return words[:1].upper() + words[1:]


#: Words :func:`human` writes in capitals, as the field writes them ("api" -> "API",
#: "arr_change_90d" -> "ARR change 90d").
ACRONYMS = frozenset({"ai", "api", "arr", "csat", "csm", "crm", "ebr", "id", "nps", "nrr", "grr",
                      "qbr", "roi", "sdk", "sla", "sso", "ui"})


def advocacy_type(code: object) -> str:
    """An advocacy activity type in words ("Reference call")."""
    return human(code)


def money(v: float | None) -> str:
    """USD for a screen: ``$1.2M``, ``$875K``, ``$900``; negative as ``-$35K`` (a metric's
    arrow then points down); a value that rounds to 0 has no sign (never ``-$0``); one
    that would round to ``$1,000K`` is ``$1.0M``; missing is ``—``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    sign, v = ("-" if v < 0 else ""), abs(float(v))
    if v >= 999_500:
        return f"{sign}${v / 1e6:,.1f}M"
    if v >= 999.5:
        return f"{sign}${v / 1e3:,.0f}K"
    if round(v) == 0:
        return "$0"
    return f"{sign}${v:,.0f}"


def percent(v: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (``0.253`` -> ``25.3%``); missing is ``—``; never
    ``-0.0%``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    text = f"{100 * float(v):.{digits}f}%"
    return text[1:] if text.startswith("-") and float(text[1:-1]) == 0 else text
