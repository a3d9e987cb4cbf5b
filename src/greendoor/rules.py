"""The alert rules, declared once each: condition, thresholds (with their defaults,
units and help), severity, title and evidence (SPEC.md "Rules, alerts and playbooks").

Adding a rule is one :class:`AlertRule` in :data:`ACCOUNT_RULES` (or a threshold of
:data:`GAP_THRESHOLDS` for the portfolio rules) plus its test: the settings model
(:mod:`greendoor.config`) declares every rule's thresholds from here, the settings
editor shows their help, and :func:`greendoor.scoring.alerts.account_alerts` evaluates
the conditions on whole columns.

This module imports no other part of Greendoor, so the settings model can read it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable

import numpy as np

#: An alert's life: raised ``open``; ``acknowledged`` (someone owns it); ``snoozed`` until a
#: date; closed as ``resolved`` (with an outcome), ``false_positive`` (with a reason) or
#: ``dismissed``. Live alerts are the inbox; quiet ones keep the same account and rule
#: from being raised again until their ``snoozed_until`` (or for good when it is empty).
ALERT_STATUSES = ("open", "acknowledged", "snoozed", "resolved", "false_positive",
                  "dismissed")
LIVE_ALERT = ("open", "acknowledged")
QUIET_ALERT = ("snoozed", "resolved", "false_positive", "dismissed")
#: Rule key prefix of the alerts raised by automation rules (``automation:<rule id>``):
#: written by :func:`greendoor.automation.run`, never by the scoring's own rules.
AUTOMATION_ALERT = "automation:"


@dataclasses.dataclass(frozen=True)
class Threshold:
    """One setting of a rule: ``settings["rules"][name]``."""

    name: str
    default: float
    unit: str  # days | share | ratio | points | tickets | USD
    help: str
    ge: float = 0.0
    le: float | None = None

    @property
    def integer(self) -> bool:
        """Whether the threshold counts whole things (days, tickets, features)."""
        return self.unit in ("days", "tickets", "features")


@dataclasses.dataclass
class Context:
    """What the rules read, one entry per account: ``x`` feature arrays (float, NaN when
    missing), ``band``, ``health_score`` and ``health_change`` arrays, the rule thresholds
    ``r`` (each a number, or an array over the accounts where a segment has its own:
    :func:`per_account`), the renewal ``windows`` (days, ascending), the as-of date and
    each account's churn ``drivers``."""

    accounts: list[str]
    x: dict[str, np.ndarray]
    band: np.ndarray
    health_score: np.ndarray
    health_change: np.ndarray
    r: dict
    windows: list[int]
    as_of: dt.date
    drivers: dict[str, list[dict]]
    has_contacts: bool

    def v(self, name: str, i: int) -> float:
        """Feature ``name`` of account ``i`` as a float (NaN when missing)."""
        return float(self.x[name][i])

    def t(self, name: str, i: int) -> float:
        """Threshold ``name`` as it applies to account ``i`` (its segment's, or the
        default); a whole number for thresholds that count days, tickets or features."""
        value = self.r[name]
        value = value[i] if isinstance(value, np.ndarray) else value
        return int(value) if THRESHOLDS[name].integer else float(value)


@dataclasses.dataclass(frozen=True)
class AlertRule:
    """A rule on whole columns: ``condition(ctx)`` is a boolean array over accounts;
    ``alert(ctx, i)`` gives account ``i``'s ``(rule, severity, title, evidence)``."""

    name: str
    help: str
    thresholds: tuple[Threshold, ...]
    condition: Callable[[Context], np.ndarray]
    alert: Callable[[Context, int], tuple[str, str, str, dict]]
    needs: tuple[str, ...] = ()  # features it reads
    applies: Callable[[Context], bool] = lambda ctx: True


RECOMMENDED = {
    "churn_escalation": ["Start the 14-day retention playbook",
                         "Executive outreach within 7 days",
                         "Review open tickets and usage with the champion"],
    "proactive_checkin": ["Schedule a check-in call this week"],
}


# --------------------------------------------------------------------------- #
# the account rules, in the order their alerts are listed
# --------------------------------------------------------------------------- #
def _red(ctx):
    return ctx.band == "red"


def _collapse(ctx):
    return ctx.x["usage_change_mom"] <= -ctx.r["escalation_usage_drop"]


def _downgrade(ctx):
    return ctx.x["arr_change_90d"] < 0


def _share(x: float) -> str:
    """A share in whole percent: "28%", or "under 1%" (not "0%") for one that rounds to 0."""
    whole = round(x * 100)
    return f"{whole}%" if whole >= 1 else "under 1%"


def _escalation(ctx, i):
    why = ([f"health is red ({ctx.health_score[i]:.0f})"] if _red(ctx)[i] else []) + \
          ([f"usage down {-ctx.v('usage_change_mom', i):.0%} month over month"]
           if _collapse(ctx)[i] else []) + \
          ([f"ARR down {_share(-ctx.v('arr_change_90d', i))} in 90 days"]
           if _downgrade(ctx)[i] else [])
    renewal = ctx.v("days_to_renewal", i)
    days = ctx.t("escalation_deadline_days", i)
    before = ctx.t("escalation_before_renewal_days", i)
    if not math.isnan(renewal) and renewal > before:  # act before the renewal's last stretch
        days = min(days, int(renewal) - before)
    deadline = ctx.as_of + dt.timedelta(days=days)
    return ("churn_escalation", "critical", "Churn escalation: " + "; ".join(why),
            {"reasons": why, "drivers": ctx.drivers.get(ctx.accounts[i], []),
             "recommended_actions": RECOMMENDED["churn_escalation"],
             "intervention_deadline": deadline.isoformat()})


def _checkin(ctx, i):
    d = ctx.v("days_since_touch", i)
    return ("proactive_checkin", "warning",
            f"Proactive check-in: yellow health and no CSM contact in {d:.0f} days",
            {"days_since_touch": d, "threshold_days": ctx.t("checkin_no_contact_days", i),
             "recommended_actions": RECOMMENDED["proactive_checkin"]})


def _tickets_spike(ctx):
    now, before = ctx.x["tickets_30d"], ctx.x["tickets_prior_30d"]
    return (now >= ctx.r["tickets_spike_min_tickets"]) & \
        (now >= (1 + ctx.r["warning_ticket_increase"]) * before)


def _renewal_window(ctx, i):
    d = ctx.v("days_to_renewal", i)
    w = min(w for w in ctx.windows if d <= w)
    return (f"renewal_{w}", "warning" if w <= ctx.t("renewal_urgent_days", i) else "info",
            f"Renewal in {d:.0f} days ({w}-day window)", {"days_to_renewal": d, "window": w})


def _busy(ctx):
    return ctx.x["seat_utilization"] > ctx.r["expansion_seat_utilization"]


def _growing(ctx):
    return ctx.x["usage_growth_90d"] >= ctx.r["expansion_usage_growth"]


def _expansion(ctx, i):
    util, growth = ctx.v("seat_utilization", i), ctx.v("usage_growth_90d", i)
    why = ([f"seat utilization {util:.0%}"] if _busy(ctx)[i] else []) + \
          ([f"usage up {growth:.0%} over 90 days"] if _growing(ctx)[i] else [])
    return ("expansion_signal", "info", "Expansion signal: " + "; ".join(why),
            {"seat_utilization": util, "usage_growth_90d": growth,
             "thresholds": {"seat_utilization": ctx.t("expansion_seat_utilization", i),
                            "usage_growth_90d": ctx.t("expansion_usage_growth", i)}})


ACCOUNT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "churn_escalation", "Red health, or usage collapsing, or a downgrade",
        (Threshold("escalation_usage_drop", 0.50, "share",
                   "Churn escalation: usage down by this share (30 d vs prior 30 d)", le=1),
         Threshold("escalation_deadline_days", 14, "days",
                   "Churn escalation: intervene within this many days", ge=1, le=90),
         Threshold("escalation_before_renewal_days", 30, "days",
                   "Churn escalation: and at least this many days before the renewal",
                   le=180)),
        lambda ctx: _red(ctx) | _collapse(ctx) | _downgrade(ctx), _escalation,
        needs=("usage_change_mom", "arr_change_90d", "days_to_renewal")),
    AlertRule(
        "proactive_checkin", "Yellow health and no recent CSM contact",
        (Threshold("checkin_no_contact_days", 30, "days",
                   "Proactive check-in: yellow and no CSM contact for this many days", ge=1),),
        lambda ctx: (ctx.band == "yellow")
        & (ctx.x["days_since_touch"] > ctx.r["checkin_no_contact_days"]),
        _checkin, needs=("days_since_touch",)),
    AlertRule(
        "usage_decline", "Usage falling month over month (short of a collapse)",
        (Threshold("warning_usage_decline", 0.30, "share",
                   "Early warning: usage decline month over month (share)", le=1),),
        lambda ctx: (ctx.x["usage_change_mom"] <= -ctx.r["warning_usage_decline"])
        & ~_collapse(ctx),
        lambda ctx, i: ("usage_decline", "warning",
                        f"Usage down {-ctx.v('usage_change_mom', i):.0%} month over month",
                        {"change": ctx.v("usage_change_mom", i),
                         "threshold": -ctx.t("warning_usage_decline", i)}),
        needs=("usage_change_mom",)),
    AlertRule(
        "logins_drop", "Logins (active user-days) falling month over month",
        (Threshold("warning_login_drop", 0.50, "share",
                   "Early warning: logins down month over month (share)", le=1),),
        lambda ctx: ctx.x["logins_change_mom"] <= -ctx.r["warning_login_drop"],
        lambda ctx, i: ("logins_drop", "warning",
                        f"Logins down {-ctx.v('logins_change_mom', i):.0%} month over month",
                        {"change": ctx.v("logins_change_mom", i),
                         "threshold": -ctx.t("warning_login_drop", i)}),
        needs=("logins_change_mom",)),
    AlertRule(
        "tickets_spike", "Many more tickets than the month before",
        (Threshold("warning_ticket_increase", 2.00, "ratio",
                   "Early warning: tickets up by this share (2.0 = +200 %)"),
         Threshold("tickets_spike_min_tickets", 3, "tickets",
                   "Early warning: and at least this many tickets in 30 days", ge=1)),
        _tickets_spike,
        lambda ctx, i: ("tickets_spike", "warning",
                        f"Tickets up: {ctx.v('tickets_30d', i):.0f} in 30 days vs "
                        f"{ctx.v('tickets_prior_30d', i):.0f} before",
                        {"tickets_30d": ctx.v("tickets_30d", i),
                         "tickets_prior_30d": ctx.v("tickets_prior_30d", i),
                         "threshold": ctx.t("warning_ticket_increase", i)}),
        needs=("tickets_30d", "tickets_prior_30d")),
    AlertRule(
        "health_drop", "Health falling fast",
        (Threshold("warning_health_drop_points", 20.0, "points",
                   "Early warning: health drop in 30 days (points)", le=100),),
        lambda ctx: ctx.health_change <= -ctx.r["warning_health_drop_points"],
        lambda ctx, i: ("health_drop", "warning",
                        f"Health down {-ctx.health_change[i]:.0f} points in 30 days",
                        {"change_points": float(ctx.health_change[i]),
                         "threshold_points": -ctx.t("warning_health_drop_points", i)})),
    AlertRule(
        "champion_inactive", "The champion left, or there is none", (),
        lambda ctx: (ctx.x["champion_left_90d"] == 1) | (ctx.x["champion_active"] == 0),
        lambda ctx, i: ("champion_inactive", "warning",
                        "Champion left in the last 90 days" if ctx.x["champion_left_90d"][i] == 1
                        else "No active champion",
                        {"champion_active": ctx.v("champion_active", i)}),
        needs=("champion_left_90d", "champion_active"), applies=lambda ctx: ctx.has_contacts),
    AlertRule(
        "renewal_window", "A renewal inside one of the renewal windows",
        (Threshold("renewal_urgent_days", 30, "days",
                   "Renewal alerts are warnings (not info) from this many days out", ge=1,
                   le=365),),
        lambda ctx: (ctx.x["days_to_renewal"] >= 0)
        & (ctx.x["days_to_renewal"] <= max(ctx.windows)),
        _renewal_window, needs=("days_to_renewal",)),
    AlertRule(
        "expansion_signal", "Seats nearly full, or usage growing",
        (Threshold("expansion_seat_utilization", 0.80, "share",
                   "Expansion signal: seat utilization above (share)", le=2),
         Threshold("expansion_usage_growth", 0.30, "share",
                   "Expansion signal: usage up over 90 days (share)"),
         Threshold("expansion_target_utilization", 0.80, "share",
                   "Expansion value: the seat utilization a new seat count should restore",
                   ge=0.05, le=1),
         Threshold("expansion_new_features", 2, "features",
                   "Expansion signal (pipeline page): at least this many features newly used "
                   "in 30 days", ge=1)),
        lambda ctx: _busy(ctx) | _growing(ctx), _expansion,
        needs=("seat_utilization", "usage_growth_90d")),
)

#: Thresholds of the portfolio rules (product and documentation gaps).
GAP_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold("product_gap_ticket_count", 3, "tickets",
              "Product gap: feature-request tickets on one topic", ge=1),
    Threshold("product_gap_arr", 100_000.0, "USD",
              "Product gap: combined ARR asking for it (USD)"),
    Threshold("documentation_gap_ticket_count", 5, "tickets",
              "Documentation gap: how-to tickets on one topic", ge=1),
)


def all_thresholds() -> tuple[Threshold, ...]:
    """Every rule threshold, each once, in declaration order."""
    seen, out = set(), []
    for t in [t for rule in ACCOUNT_RULES for t in rule.thresholds] + list(GAP_THRESHOLDS):
        if t.name not in seen:
            seen.add(t.name)
            out.append(t)
    return tuple(out)


#: Every rule threshold by name.
THRESHOLDS: dict[str, Threshold] = {t.name: t for t in all_thresholds()}


def segment_thresholds() -> tuple[Threshold, ...]:
    """The thresholds a segment may set for itself (settings ``rules_by_segment``): those
    of the account rules (the portfolio rules look at the whole book)."""
    return tuple(t for t in all_thresholds() if t not in GAP_THRESHOLDS)


def for_segment(settings: dict, segment: str | None) -> dict:
    """The rule thresholds that apply to an account of ``segment``: ``settings["rules"]``
    with the segment's own values from ``settings["rules_by_segment"]`` over them."""
    out = dict(settings["rules"])
    out.update((settings.get("rules_by_segment") or {}).get(segment) or {})
    return out


def per_account(settings: dict, segments) -> dict:
    """The thresholds of :attr:`Context.r` for accounts of ``segments`` (one per account,
    as of the date scored): a number where every account shares the default, an array
    over the accounts where a segment has its own value (numpy broadcasts it through
    the rules' conditions)."""
    out = dict(settings["rules"])
    by_segment = settings.get("rules_by_segment") or {}
    if not by_segment:
        return out
    seg = np.asarray(segments, dtype=object)
    for name in {n for values in by_segment.values() for n in values}:
        arr = np.full(len(seg), float(out[name]))
        for segment, values in by_segment.items():
            if name in values:
                arr[seg == segment] = float(values[name])
        out[name] = arr
    return out


def features_used() -> list[str]:
    """The features the account rules read."""
    return sorted({"arr", *[f for rule in ACCOUNT_RULES for f in rule.needs]})
