"""The weekly meeting digest (issue 21): the figures a CS meeting reviews, as a page that
leaves the app (self-contained HTML, or PDF printed from it).

:func:`weekly_digest` reads everything as of a date from the same read models as the
pages (Portfolio health's KPIs and bridge, This week's agenda, Churn risk's queue,
Renewals' windows, the actions taken in the week), so a figure in the digest is the
figure on screen; :func:`weekly_html` lays it out. Models without measured skill do
not drive any number here either: their columns are left out and the footer says why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor import periods
from greendoor import settings as S
from greendoor.analytics import (
    benchmarks,
    churn_risk,
    model_quality,
    portfolio_health,
    renewals,
    this_week,
)
from greendoor.charts import portfolio as PC
from greendoor.charts.theme import Theme
from greendoor.labels import human, money, percent
from greendoor.metrics import sql as msql
from greendoor.periods import Filters
from greendoor.reports import render
from greendoor.scoring import skill
from greendoor.store import schema


@dataclasses.dataclass
class WeeklyDigest:
    """Everything the weekly digest shows, as of ``as_of`` for changes since ``since``.

    ``kpis`` / ``kpis_before``: :func:`portfolio_health.kpis` now and at ``since``;
    ``health``: :func:`portfolio_health.health_kpis`; ``bridge``:
    :func:`portfolio_health.retention_bridge` (trailing 12 months); ``agenda``:
    :func:`this_week.agenda`; ``risks``: the top of the at-risk queue (``name, segment,
    arr, health_score, band, expected_loss, days_to_renewal, drivers, open_playbook``);
    ``market``: GRR and NRR against published medians
    (:func:`greendoor.analytics.benchmarks.compare_kpis`); ``windows``:
    :func:`renewals.window_summary`; ``renewals_due``: the largest renewals
    in the first window (``name, renewal_date, days_to_renewal, arr, renewal_probability,
    has_plan``); ``decisions``: actions created in ``[since, as_of)`` (``created_at, name,
    type, title, owner, status, created_by``); ``model_notes``: one sentence per model on
    its measured skill; ``gates``: which models drive numbers."""

    as_of: dt.date
    since: dt.date
    scope: str
    kpis: dict
    kpis_before: dict
    health: dict
    bridge: dict
    agenda: pd.DataFrame
    risks: pd.DataFrame
    windows: pd.DataFrame
    renewals_due: pd.DataFrame
    decisions: pd.DataFrame
    model_notes: list[str]
    uses: dict
    market: dict = dataclasses.field(default_factory=dict)
    theme: Theme = dataclasses.field(default_factory=Theme)
    masked: bool = False
    top: int = 10


def weekly_digest(conn: Connection, f: Filters, since: dt.date | None = None,
                  settings: dict | None = None) -> WeeklyDigest:
    """The digest of the filtered book as of ``f.as_of`` for changes since ``since``
    (default a week earlier), with the store's current settings unless ``settings`` is
    given. Raises ``ValueError`` when ``since`` is not before the as-of date."""
    since = since or f.as_of - dt.timedelta(days=7)
    if since >= f.as_of:
        raise ValueError(f"the digest's start {since} must be before its as-of date {f.as_of}")
    s = settings or S.current(conn)[1]
    top = int(s["report_top_accounts"])
    gates = skill.Gates(model_quality.latest(conn))
    windows = sorted(s["this_week_renewal_windows_days"])
    due = renewals.due(conn, f, windows)
    first = due[due["window"] == windows[0]].sort_values("arr", ascending=False) if len(due) \
        else due
    queue = churn_risk.at_risk_queue(conn, f, s)
    kpis = portfolio_health.kpis(conn, f)
    return WeeklyDigest(
        as_of=f.as_of, since=since, scope=scope_words(f), kpis=kpis,
        market=benchmarks.compare_kpis(benchmarks.table(conn), kpis, s["currency"]),
        kpis_before=portfolio_health.kpis(conn, dataclasses.replace(f, as_of=since)),
        health=portfolio_health.health_kpis(conn, f),
        bridge=portfolio_health.retention_bridge(conn, f),
        agenda=this_week.agenda(conn, f, since, drop_points=s["this_week_health_drop_points"],
                                windows=tuple(s["this_week_renewal_windows_days"]),
                                expansion_min=s["this_week_expansion_probability"]),
        risks=queue.head(top) if len(queue) else queue,
        windows=renewals.window_summary(due, windows) if len(due) else pd.DataFrame(),
        renewals_due=first.head(top),
        decisions=decisions(conn, f, since),
        model_notes=[skill.status_sentence(gates, k) for k in ("churn", "renewal")],
        uses={k: gates.uses(k) for k in gates.MODELS}, theme=Theme.of(s), top=top)


def scope_words(f: Filters) -> str:
    """"All accounts", or the segment and CSM the filters keep."""
    parts = ([f"segment {human(f.segment)}"] if f.segment else []) + \
        ([f"CSM {f.owner}"] if f.owner else [])
    return ", ".join(parts) if parts else "All accounts"


def decisions(conn: Connection, f: Filters, since: dt.date) -> pd.DataFrame:
    """Actions created in ``[since, as_of)`` on the filtered accounts (at the data's latest
    date, every action taken since ``since``, the app's own included), newest first:
    ``created_at, account_id, name, type, title, owner, status, created_by``; playbook
    steps are summed up by their run."""
    t, a = schema.actions, schema.accounts
    q = (sa.select(t.c.created_at, t.c.account_id, a.c.name, t.c.type, t.c.title, t.c.owner,
                   t.c.status, t.c.created_by)
         .select_from(t.join(a, a.c.account_id == t.c.account_id))
         .where(t.c.type != "playbook_step",
                t.c.created_at >= dt.datetime.combine(since, dt.time())))
    if not periods.is_present(conn, f.as_of):
        q = q.where(t.c.created_at < dt.datetime.combine(f.as_of, dt.time()))
    flt = msql.account_filter(a.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    return pd.read_sql(q.order_by(t.c.created_at.desc()), conn)


# ---------------------------------------------------------------- HTML

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1b2631; font-size: 10.5pt;
       margin: 0 auto; max-width: 190mm; }
h1 { font-size: 19pt; margin: 0 0 2pt; color: #1f4e79; }
h2 { font-size: 13pt; margin: 16pt 0 5pt; color: #1f4e79; border-bottom: 1.5pt solid #d6dbdf;
     padding-bottom: 2pt; page-break-after: avoid; }
.sub { color: #566573; margin: 0 0 8pt; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6pt; }
.kpi { border: 1pt solid #d6dbdf; border-radius: 4pt; padding: 5pt 7pt; }
.kpi .l { color: #566573; font-size: 8.5pt; } .kpi .v { font-size: 15pt; font-weight: bold; }
.kpi .d { font-size: 8.5pt; color: #566573; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; page-break-inside: auto; }
th { text-align: left; background: #eaf2f8; padding: 3pt 4pt; }
td { border-top: 0.6pt solid #e5e8e8; padding: 3pt 4pt; vertical-align: top; }
tr { page-break-inside: avoid; } th.w { width: 45%; } td:first-child { min-width: 28mm; }
tr.note td { border-top: none; color: #566573; font-size: 8.5pt; padding: 0 4pt 4pt 14pt; } td.n, th.n { text-align: right; white-space: nowrap; }
.band-red { color: #c0392b; font-weight: bold; } .band-yellow { color: #9a7d0a; font-weight: bold; }
.band-green { color: #1e8449; font-weight: bold; }
.none { color: #566573; font-style: italic; } img { width: 100%; }
.foot { color: #566573; font-size: 8pt; margin-top: 14pt; border-top: 1pt solid #d6dbdf;
        padding-top: 4pt; }
"""


def _e(v) -> str:
    """Text escaped for HTML; missing values as an em dash."""
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return "—"
    return html.escape(str(v))


def _delta(now: float, before: float, fmt) -> str:
    """"+$402K since the start of the week"; "no change" when the change rounds to 0."""
    if now != now or before != before:
        return ""
    text = fmt(now - before)
    zero = fmt(0).lstrip("+-")
    return "no change this week" if text.lstrip("+-") == zero \
        else f"{text} since the start of the week"


def _kpi_cards(d: WeeklyDigest) -> str:
    k, b, h = d.kpis, d.kpis_before, d.health
    pts = lambda v: f"{v * 100:+.1f} pts"  # noqa: E731 - shares shown in points
    cards = [
        ("ARR", money(k["arr"]), _delta(k["arr"], b["arr"], lambda v: ("+" if v > 0 else "")
                                        + money(v))),
        ("Accounts with ARR", f"{k['accounts']:,}", _delta(k["accounts"], b["accounts"],
                                                          lambda v: f"{v:+,}")),
        ("GRR, trailing 12 months", percent(k["grr"]), _delta(k["grr"], b["grr"], pts)),
        ("NRR, trailing 12 months", percent(k["nrr"]), _delta(k["nrr"], b["nrr"], pts)),
        ("Logo churn, 12 months", percent(k["logo_churn"]),
         _delta(k["logo_churn"], b["logo_churn"], pts)),
        ("NPS, 12 months", "—" if k["nps"] != k["nps"] else f"{k['nps']:+.0f}",
         f"{k['nps_responses']:,} responses"),
        ("Average health", "—" if not h.get("snapshot") else f"{h['avg_health']:.0f}",
         "" if not h.get("snapshot") else f"{percent(h['share_red'], 0)} of ARR red"),
        ("ARR at risk, 90 days", money(h.get("arr_at_risk", float("nan"))),
         "from the churn model" if h.get("arr_at_risk_basis") == "model" else
         f"from the {h.get('arr_at_risk_basis') or 'base rate'} rule (no model with skill)"),
    ]
    return '<div class="kpis">' + "".join(
        f'<div class="kpi"><div class="l">{_e(lbl)}</div><div class="v">{_e(v)}</div>'
        f'<div class="d">{_e(dl)}</div></div>' for lbl, v, dl in cards) + "</div>"


def _table(df: pd.DataFrame, cols: list[tuple[str, str, object]], empty: str,
           note: tuple[str, str] | None = None) -> str:
    """An HTML table of ``df``: ``cols`` = (column, header, formatter or None); ``note`` =
    (column, label): that column's text on a full-width line under each row."""
    if df is None or df.empty:
        return f'<p class="none">{_e(empty)}</p>'
    numeric = {c for c, _, fmt in cols if fmt in (money, percent, _int)}
    head = "".join(f'<th class="{"n" if c in numeric else "w" if c in WIDE else ""}">{_e(h)}</th>'
                   for c, h, _ in cols)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c, _, fmt in cols:
            v = r.get(c)
            text = _e(fmt(v) if fmt and not (v is None or (isinstance(v, float) and v != v))
                      else v)
            cls = "n" if c in numeric else (f"band-{v}" if c == "band" else "")
            cells.append(f'<td class="{cls}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
        if note and r.get(note[0]):
            rows.append(f'<tr class="note"><td colspan="{len(cols)}">{_e(note[1])}: '
                        f"{_e(r.get(note[0]))}</td></tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


#: Text columns that get the table's width.
WIDE = ("detail", "title")


def _int(v) -> str:
    return f"{v:,.0f}"


def _day(v) -> str:
    return pd.Timestamp(v).strftime("%d %b %Y")


def _agenda_html(d: WeeklyDigest) -> str:
    out = []
    for section in this_week.SECTIONS:
        items = d.agenda[d.agenda["section"] == section]
        shown = items.head(d.top)
        more = f" (the {d.top} largest by ARR)" if len(items) > d.top else ""
        out.append(f"<h3>{_e(section)}: {len(items)}{_e(more)}</h3>")
        if len(items):
            out.append(_table(shown, [("name", "Account", None), ("detail", "What changed", None),
                                      ("arr", "ARR", money)], ""))
    return "".join(out).replace("<h3>", '<h3 style="font-size:10.5pt;margin:8pt 0 3pt">')


def weekly_html(d: WeeklyDigest, images: bool = True) -> str:
    """The digest as one self-contained HTML page (inline CSS; charts as PNG data URIs
    when ``images``, which needs Chromium: :func:`greendoor.reports.render.figure_png`)."""
    theme = d.theme
    gen = dt.datetime.now().strftime("%d %b %Y %H:%M")
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>Weekly CS digest, {d.as_of:%d %b %Y}</title><style>{_CSS}</style></head>"
             "<body>",
             "<h1>Weekly customer-success digest</h1>",
             f'<p class="sub">{_e(d.scope)} · data as of {d.as_of:%d %b %Y} · changes since '
             f"{d.since:%d %b %Y}{' · names masked' if d.masked else ''}</p>",
             _kpi_cards(d)]
    if d.market:
        parts.append('<p class="sub" style="margin-top:6pt">Against the market: '
                     + " ".join(_e(c.words) for c in d.market.values()) + "</p>")
    br = d.bridge.get("bridge")
    if images and br:
        fig = PC.retention_bridge(br, f"{d.bridge['start']:%d %b %Y} to {d.bridge['end']:%d %b %Y}",
                                  money, theme)
        png = render.figure_png(fig, width=900, scale=2)
        parts.append(f'<img alt="ARR bridge" src="{render.data_uri(png)}">')
    elif br:
        parts.append(f'<p class="sub">ARR bridge, trailing 12 months: start {money(br["start"])}'
                     f' + new {money(br["new"])} + expansion {money(br["expansion"])} − '
                     f'contraction {money(br["contraction"])} − churn {money(br["churn"])} = '
                     f'end {money(br["end"])}.</p>')
    parts.append("<h2>What changed this week</h2>")
    parts.append(_agenda_html(d))
    parts.append(f"<h2>Top risks ({len(d.risks)} largest expected losses)</h2>")
    risk_cols = [("name", "Account", None), ("segment", "Segment", human), ("arr", "ARR", money),
                 ("health_score", "Health", _int), ("band", "Band", None),
                 ("expected_loss", "Expected loss", money),
                 ("days_to_renewal", "Renewal in (days)", _int)]
    risk_cols.append(("open_playbook", "Open playbook", None))
    parts.append(_table(d.risks, risk_cols, "No account is at risk.",
                        note=("drivers", "Why (churn drivers)") if d.uses.get("churn") else None))
    parts.append("<h2>Renewals in the windows</h2>")
    parts.append(_table(d.windows, [("window", "Within (days)", _int),
                                    ("renewals", "Renewals", _int), ("arr", "ARR due", money),
                                    ("without_plan", "Without a renewal plan", _int),
                                    ("arr_without_plan", "ARR without a plan", money)],
                        "No renewal due in the windows."))
    ren_cols = [("name", "Account", None), ("renewal_date", "Renewal date", _day),
                ("days_to_renewal", "In (days)", _int), ("arr", "ARR", money)]
    if d.uses.get("renewal"):
        ren_cols.append(("renewal_probability", "P(renew)", percent))
    ren_cols.append(("has_plan", "Renewal plan", lambda v: "yes" if v else "no"))
    if len(d.renewals_due):
        parts.append('<p class="sub">The largest renewals due first:</p>'
                     + _table(d.renewals_due, ren_cols, ""))
    shown = d.top * 3
    more = f", the {shown} latest" if len(d.decisions) > shown else ""
    parts.append(f"<h2>Decisions taken ({len(d.decisions)} actions{more})</h2>")
    parts.append(_table(d.decisions.head(shown), [
        ("created_at", "Date", _day), ("name", "Account", None), ("type", "Type", human),
        ("title", "Action", None), ("owner", "Owner", None), ("status", "Status", human),
        ("created_by", "By", None)], "No action was taken in the week."))
    parts.append('<div class="foot">' + "<br>".join(_e(n) for n in d.model_notes)
                 + f"<br>Health bands: {_e(theme.band_words())}. Generated by Greendoor on "
                 f"{gen} from the store's data as of {d.as_of:%d %b %Y}; every figure uses only "
                 "what was known on that date.</div></body></html>")
    return "\n".join(parts)
