"""Words for the codes the store holds, so that no page shows ``mid_market``,
``no_opportunity``, ``reference_call`` or ``data_import``.

:func:`human` turns any code into words (a known label, else the code with its
underscores as spaces and a capital first letter); the dictionaries below hold the
labels that differ from that rule.
"""

from __future__ import annotations

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
    "login.failed": "Failed sign-in", "login.locked": "Sign-in locked",
    # renewal date basis
    "contract": "From the contract's term", "stored": "Exported renewal date",
}


def human(code: object) -> str:
    """Words for a code: ``"mid_market"`` -> ``"Mid-market"``; ``None`` -> ``"—"``."""
    if code is None or (isinstance(code, float) and code != code):
        return "—"
    text = str(code)
    if text in LABELS:
        return LABELS[text]
    words = text.replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:]


def advocacy_type(code: object) -> str:
    """An advocacy activity type in words ("Reference call")."""
    return human(code)
