"""Playbooks as data (SPEC.md "Rules, alerts and playbooks").

A playbook is a list of steps. Each step has a day offset, the role that owns it
and what to do. Offsets count from the day the playbook starts, except for the
renewal playbook, whose offsets count back from the renewal date (120 / 90 / 60 /
30 days before it). Starting a playbook writes a run and one task per step
(:func:`greendoor.actions.start_playbook`).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a playbook: due ``offset_days`` after the playbook's anchor (its start, or
    before the renewal date when negative), done by ``owner_role``."""
    offset_days: int
    owner_role: str  # csm | csm_manager | support_lead | executive | account_executive
    title: str


@dataclasses.dataclass(frozen=True)
class Playbook:
    """A named sequence of steps started on an account; ``relative_to`` says whether offsets
    count from the start or from the account's renewal date."""
    key: str
    name: str
    purpose: str
    steps: tuple[Step, ...]
    relative_to: str = "start"  # start | renewal


PLAYBOOKS: dict[str, Playbook] = {p.key: p for p in (
    Playbook(
        "retention_14d", "Retention (14 days)",
        "Stop a slipping account from churning: confirm the drivers, bring in an executive, "
        "fix what hurts, agree a recovery plan.",
        (Step(0, "csm", "Call the champion to confirm the risk drivers"),
         Step(2, "executive", "Executive outreach to the sponsor"),
         Step(4, "support_lead", "Review and unblock open and escalated tickets"),
         Step(7, "csm", "Agree a written recovery plan with success criteria"),
         Step(14, "csm_manager", "Review the outcome: health, usage, sentiment"))),
    Playbook(
        "renewal", "Renewal (120 / 90 / 60 / 30 days)",
        "Run the renewal on a calendar: value review, proposal, negotiation, signature.",
        (Step(-120, "csm", "Renewal kick-off: confirm stakeholders and success to date"),
         Step(-90, "csm", "Value review (QBR/EBR) with the sponsor"),
         Step(-60, "account_executive", "Send the renewal proposal"),
         Step(-30, "account_executive", "Negotiate and get the order signed")),
        relative_to="renewal"),
    Playbook(
        "onboarding_90d", "Onboarding (90 days, three phases)",
        "Days 1-30 set up and first value; 31-60 adoption across the team; 61-90 "
        "outcomes confirmed and handover to steady state.",
        (Step(1, "csm", "Phase 1 (days 1-30): kick-off and success plan"),
         Step(14, "csm", "Phase 1: technical set-up and data connected"),
         Step(30, "csm", "Phase 1 done: first value milestone reached"),
         Step(45, "csm", "Phase 2 (days 31-60): train the wider team"),
         Step(60, "csm", "Phase 2 done: seat utilization above 50 %"),
         Step(75, "csm", "Phase 3 (days 61-90): review outcomes with the sponsor"),
         Step(90, "csm_manager", "Phase 3 done: onboarding closed, success plan renewed"))),
    Playbook(
        "expansion", "Expansion",
        "Turn an expansion signal into an opportunity: confirm need, size it, propose.",
        (Step(0, "csm", "Confirm the need with the champion (seats, teams, features)"),
         Step(5, "account_executive", "Size the expansion and create the opportunity"),
         Step(14, "account_executive", "Send the proposal"))),
    Playbook(
        "advocacy_ask", "Advocacy ask",
        "Ask a happy customer to advocate, at the right moment and with a clear ask.",
        (Step(0, "csm", "Check the timing: promoter, green, no open escalation"),
         Step(3, "csm", "Make the ask (reference, case study, review or referral)"),
         Step(21, "csm", "Follow up and record the outcome"))),
)}
