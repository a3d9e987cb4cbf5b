"""A success plan as a self-contained HTML page, printed to PDF by Chromium (issue 20):
objectives, stakeholders with their RACI role, the 90-day milestones by phase with the
critical path, the value metrics with baseline, target and the latest measurement, and
the approval state."""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd

from greendoor.labels import human, money


def _e(v) -> str:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return "—"
    return html.escape(str(v))


def _day(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{pd.Timestamp(v):%-d %b %Y}"


def plan_html(detail: dict, as_of: dt.date, account_name: str) -> str:
    """The plan of :func:`greendoor.analytics.onboarding.plan_detail` as HTML (A4)."""
    p = detail["plan"]
    ms, people, met = detail["milestones"], detail["stakeholders"], detail["metrics"]
    rows_m = "".join(
        f"<tr class='{'crit' if r.critical else ''}'><td>{_e(human(r.phase))}</td>"
        f"<td class=n>{'★ ' if r.critical else ''}{_e(r.name)}</td><td>{_e(r.owner)}</td>"
        f"<td class=d>{_day(r.due_date)}</td><td class=d>{_day(r.done_on)}</td>"
        f"<td class=r>{'usage: ' + _e(r.completion_rule) if r.auto else 'by hand'}</td></tr>"
        for r in ms.itertuples())
    rows_s = "".join(
        f"<tr><td>{_e(r.name)}</td><td>{_e(r.title)}</td><td>{_e(human(r.side))}</td>"
        f"<td>{_e(str(r.raci).capitalize())}</td></tr>" for r in people.itertuples())
    rows_v = "".join(
        f"<tr><td>{_e(r.name)}</td><td>{r.baseline:,.1f} {_e(r.unit)}</td>"
        f"<td>{r.target:,.1f}</td><td>{'—' if pd.isna(r.latest) else f'{r.latest:,.1f}'}</td>"
        f"<td>{money(r.value_per_unit)}</td></tr>" for r in met.itertuples()) or \
        "<tr><td colspan=5>No value metric yet: add one with its baseline.</td></tr>"
    objectives = "".join(f"<li>{_e(o)}</li>" for o in str(p.get("objectives") or "")
                         .splitlines() if o.strip())
    approval = _e(human(p.get("approval") or p.get("status")))
    if p.get("approver"):
        approval += f" by {_e(p['approver'])} on {_day(p.get('decided_at'))}"
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{_e(p.get('name'))}</title><style>
@page {{ size: A4; margin: 16mm; }}
body {{ font-family: "DejaVu Sans", Arial, sans-serif; color: #1b2631; font-size: 11pt; }}
h1 {{ font-size: 19pt; margin: 0 0 4px; }} h2 {{ font-size: 13pt; margin: 18px 0 6px; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #d5d8dc; padding: 4px 6px; text-align: left; }}
th {{ background: #eaf2f8; }} tr.crit td {{ font-weight: bold; }}
td.d {{ white-space: nowrap; }} td.n {{ width: 34%; }} td.r {{ font-size: 9pt; word-break: break-all; width: 22%; }}
.meta {{ color: #566573; }}
</style></head><body>
<h1>{_e(p.get('name'))}</h1>
<div class="meta">{_e(account_name)} · {_e(human(p.get('template')))} template · owner
{_e(p.get('owner'))} · day 1 {_day(p.get('start_date'))} · version {_e(p.get('version'))}
· status: {approval} · as of {as_of:%-d %b %Y}</div>
<h2>Objectives</h2><ul>{objectives or '<li>—</li>'}</ul>
<h2>Stakeholders (RACI)</h2>
<table><tr><th>Name</th><th>Title</th><th>Side</th><th>Role</th></tr>{rows_s}</table>
<h2>Milestones (★ critical path)</h2>
<table><tr><th>Phase</th><th>Milestone</th><th>Owner</th><th>Due</th><th>Done</th>
<th>Completed by</th></tr>{rows_m}</table>
<h2>Value metrics</h2>
<table><tr><th>Metric</th><th>Baseline</th><th>Target</th><th>Latest</th>
<th>Value per unit a year</th></tr>{rows_v}</table>
</body></html>"""
