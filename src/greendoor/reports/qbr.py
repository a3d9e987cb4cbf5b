"""The per-account QBR deck (issue 21): health and its why, usage and adoption, value,
the voice of the customer, the renewal and the open actions, as a PowerPoint file
(python-pptx) a CSM takes into the quarterly business review.

:func:`qbr_data` reads the account as Account 360 shows it at an as-of date
(:func:`greendoor.account360.load`: nothing after the date), :func:`qbr_pptx` lays
it out on 16:9 slides with the charts of :mod:`greendoor.charts.account` as images.
A model's probability appears only when the model has measured skill.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pandas as pd
import sqlalchemy as sa
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt
from sqlalchemy.engine import Connection

from greendoor import account360, periods
from greendoor import settings as S
from greendoor.access import Principal
from greendoor.analytics import model_quality
from greendoor.charts import account as AC
from greendoor.charts import onboarding as onboarding_charts
from greendoor.charts.theme import BAND_COLORS, INK, NAVY, Theme
from greendoor.labels import human, money, percent
from greendoor.reports import render
from greendoor.scoring import skill
from greendoor.scoring.features import describe
from greendoor.store import schema

#: Rows of a table slide before "and N more".
MAX_ROWS = 8
#: The days of tickets and surveys the voice-of-the-customer slide counts.
VOICE_DAYS = 90


@dataclasses.dataclass
class QbrData:
    """One account's QBR content as of ``as_of``: ``a360`` (:class:`~greendoor.account360.
    Account360`), ``open_actions`` (``created_at, type, title, owner, due_date``),
    ``surveys`` (``responded_at, survey, score, comment``, newest first, the last
    :data:`VOICE_DAYS` days), ``tickets`` (count in those days) and ``escalations``;
    ``uses``: which models have measured skill; ``notes``: their status sentences;
    ``theme``: the health bands in force."""

    as_of: dt.date
    a360: account360.Account360
    open_actions: pd.DataFrame
    surveys: pd.DataFrame
    tickets: int
    escalations: int
    uses: dict
    notes: dict
    theme: Theme
    value: dict | None = None  # the success plan's value (issue 20), with "trajectory"


def qbr_data(conn: Connection, account_id: str, as_of: dt.date,
             principal: Principal | None = None) -> QbrData:
    """The QBR content of ``account_id`` as of ``as_of``. Raises ``KeyError`` for an unknown
    account and :class:`~greendoor.access.AccessDenied` when ``principal`` may not see it."""
    a360 = account360.load(conn, account_id, as_of, principal)
    if a360 is None:
        raise KeyError(f"no account with id {account_id!r}")
    gates = skill.Gates(model_quality.latest(conn))
    ts = dt.datetime.combine(as_of, dt.time())
    start = ts - dt.timedelta(days=VOICE_DAYS)
    t, r, k = schema.actions, schema.survey_responses, schema.tickets
    q = sa.select(t.c.created_at, t.c.type, t.c.title, t.c.owner, t.c.due_date).where(
        t.c.account_id == account_id, t.c.status == "open", t.c.type != "playbook_step")
    if not periods.is_present(conn, as_of):
        q = q.where(t.c.created_at < ts)
    actions = pd.read_sql(q.order_by(t.c.due_date), conn)
    surveys = pd.read_sql(sa.select(r.c.responded_at, r.c.survey, r.c.score, r.c.comment).where(
        r.c.account_id == account_id, r.c.responded_at < ts, r.c.responded_at >= start)
        .order_by(r.c.responded_at.desc()), conn)
    tk = conn.execute(sa.select(sa.func.count(), sa.func.sum(sa.case((k.c.escalated, 1), else_=0)))
                      .where(k.c.account_id == account_id, k.c.opened_at < ts,
                             k.c.opened_at >= start)).one()
    from greendoor.analytics import onboarding as OBA

    settings = S.current(conn)[1]
    value = OBA.account_value(conn, account_id, as_of, settings)
    if value is not None:
        detail = OBA.plan_detail(conn, value["plan"]["plan_id"], as_of)
        value["trajectory"] = OBA.trajectory(detail, as_of)
    return QbrData(as_of=as_of, a360=a360, open_actions=actions, surveys=surveys,
                   tickets=int(tk[0] or 0), escalations=int(tk[1] or 0),
                   uses={m: gates.uses(m) for m in gates.MODELS},
                   notes={m: skill.status_sentence(gates, m) for m in ("churn", "renewal")},
                   theme=Theme.of(settings), value=value)


# ---------------------------------------------------------------- PPTX

_W, _H = Inches(13.333), Inches(7.5)
_NAVY, _INK, _GREY = RGBColor.from_string(NAVY[1:]), RGBColor.from_string(INK[1:]), \
    RGBColor.from_string("566573")


def _text(slide, left, top, width, height, lines: list[tuple[str, int, bool, RGBColor]]):
    """A text box of ``lines`` = (text, size pt, bold, colour)."""
    box = slide.shapes.add_textbox(left, top, width, height)
    tf = box.text_frame
    tf.word_wrap = True
    for i, (text, size, bold, color) in enumerate(lines):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        run = p.add_run()
        run.text = text
        run.font.size, run.font.bold, run.font.color.rgb = Pt(size), bold, color
    return box


def _slide(prs, title: str, subtitle: str | None = None):
    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank
    lines = [(title, 30, True, _NAVY)] + ([(subtitle, 14, False, _GREY)] if subtitle else [])
    _text(slide, Inches(0.5), Inches(0.3), Inches(12.3), Inches(1.0), lines)
    return slide


def _table(slide, df: pd.DataFrame, cols: list[tuple[str, str, object]], left, top, width):
    """A native table of the first :data:`MAX_ROWS` rows: ``cols`` = (column, header,
    formatter or None); a last line says how many more there are."""
    rows = df.head(MAX_ROWS)
    shape = slide.shapes.add_table(len(rows) + 1, len(cols), left, top, width,
                                   Inches(0.4) * (len(rows) + 1))
    table = shape.table
    for j, (_, header, _) in enumerate(cols):
        table.cell(0, j).text = header
    for i, (_, r) in enumerate(rows.iterrows(), start=1):
        for j, (c, _, fmt) in enumerate(cols):
            v = r.get(c)
            missing = v is None or (isinstance(v, float) and v != v) or v is pd.NaT
            table.cell(i, j).text = "—" if missing else str(fmt(v) if fmt else v)
    for row in table.rows:
        for cell in row.cells:
            for p in cell.text_frame.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(13)
    if len(df) > MAX_ROWS:
        _text(slide, left, top + Inches(0.4) * (len(rows) + 1) + Inches(0.1), width, Inches(0.4),
              [(f"… and {len(df) - MAX_ROWS} more in Greendoor", 12, False, _GREY)])


def _picture(slide, fig, left, top, width):
    png = render.figure_png(fig, width=900, scale=2)
    slide.shapes.add_picture(io.BytesIO(png), left, top, width=width)


def _day(v) -> str:
    return pd.Timestamp(v).strftime("%d %b %Y")


def _title_slide(prs, d: QbrData) -> None:
    a = d.a360.account
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    _text(slide, Inches(0.8), Inches(2.4), Inches(11.7), Inches(2.6), [
        (str(a["name"]), 40, True, _NAVY),
        ("Quarterly business review", 24, False, _INK),
        (" · ".join(x for x in [human(a.get("segment")) if a.get("segment") else "",
                                f"ARR {money(d.a360.arr)}",
                                f"CSM {a.get('csm_owner') or '—'}",
                                f"as of {d.as_of:%d %b %Y}"] if x), 16, False, _GREY)])


def _health_slide(prs, d: QbrData) -> None:
    snap, det = d.a360.snapshot or {}, d.a360.details
    hs = snap.get("health_score")
    slide = _slide(prs, "Health and its why", "Health score 0-100 from engagement, sentiment "
                   f"and growth; {d.theme.band_words()}")
    band = snap.get("band")
    color = RGBColor.from_string(BAND_COLORS.get(band, NAVY)[1:])
    lines = [("—" if hs is None else f"{hs:.0f}", 54, True, color),
             (f"{band or 'not scored'} · {snap.get('trend') or ''}", 16, False, _INK)]
    for comp in ("engagement", "sentiment", "growth"):
        v = snap.get(comp)
        lines.append((f"{comp.capitalize()}: {'unknown' if v is None or v != v else f'{v:.0f}'}",
                      14, False, _INK))
    if d.uses.get("churn") and snap.get("churn_probability") is not None:
        lines.append((f"P(churn, 90 days): {percent(snap['churn_probability'])}", 14, False, _INK))
    _text(slide, Inches(0.5), Inches(1.4), Inches(3.2), Inches(3.5), lines)
    why = account360.why_frame(det)
    if len(why):
        top = why.sort_values("gain", ascending=False).head(3)
        tips = [("Biggest levers (points the score could gain)", 15, True, _NAVY)] + [
            (f"{describe(m)}: up to {g:.1f}", 13, False, _INK)
            for m, g in zip(top["measure"], top["gain"], strict=True)]
        _text(slide, Inches(0.5), Inches(4.9), Inches(3.4), Inches(2.4), tips)
    if len(d.a360.history):
        _picture(slide, AC.health_history(d.a360.history, d.theme), Inches(4.0), Inches(1.5),
                 Inches(8.9))


def _usage_slide(prs, d: QbrData) -> None:
    u = d.a360.usage_weekly
    slide = _slide(prs, "Usage and adoption", "Weekly events and active users, last 12 months")
    if not len(u):
        _text(slide, Inches(0.5), Inches(1.6), Inches(12), Inches(1), [
            ("No product usage in the 12 months before this date.", 18, False, _INK)])
        return
    whole = u[pd.to_datetime(u["week"]) + pd.Timedelta(days=7) <= pd.Timestamp(d.as_of)]
    recent, prior = whole.tail(4), whole.iloc[-8:-4]
    words = [f"Active users, average of the last 4 whole weeks: "
             f"{recent['active_users'].mean():.0f}" if len(recent) else "No whole week yet"]
    if len(prior) and prior["events"].sum() > 0:
        change = recent["events"].sum() / prior["events"].sum() - 1
        words.append(f"Events, last 4 whole weeks against the 4 before: {change:+.0%}")
    _text(slide, Inches(0.5), Inches(1.3), Inches(12.3), Inches(0.8),
          [(w, 15, False, _INK) for w in words])
    _picture(slide, AC.weekly_usage(u, d.theme), Inches(1.2), Inches(2.2), Inches(10.9))


def _value_slide(prs, d: QbrData) -> None:
    v = (d.value or {}).get("value")
    if not v or pd.isna(v.get("benefit")):
        slide = _slide(prs, "Value and ROI")
        _text(slide, Inches(0.5), Inches(1.6), Inches(12), Inches(2), [
            ("This store holds no value measurements for the account (success plans with "
             "value metrics and their baselines), so no ROI is claimed here.", 18, False, _INK),
            ("Import value metrics and measurements, or add them to the account's success "
             "plan, to show realized value and ROI = (benefits − cost) / cost on this slide.",
             14, False, _GREY)])
        return
    pg = d.value["progress"]
    slide = _slide(prs, "Value and ROI", f"Success plan day {int(pg['day'])}: "
                   f"{int(pg['done'])} of {int(pg['milestones'])} milestones done, {pg['status']}")
    _text(slide, Inches(0.5), Inches(1.5), Inches(4.6), Inches(5), [
        (f"{money(v['benefit'])} a year", 30, True, _NAVY),
        (f"realized, against {money(v['planned_benefit'])} planned by now", 14, False, _GREY),
        (f"ROI {v['roi']:.0%}", 26, True, _NAVY),
        (f"80 % interval {v['roi_low']:.0%} to {v['roi_high']:.0%}; cost "
         f"{money(v['cost'])} (ARR and services)", 14, False, _GREY),
        (f"Next quarter {money(v['quarter_benefit'])}, next year "
         f"{money(v['annual_benefit'])} at the realized run rate", 14, False, _INK),
        ("Behind plan: realized value trails the trajectory" if v["value_risk"] else
         "On plan", 14, True, _INK)])
    traj = d.value.get("trajectory")
    if traj is not None and len(traj):
        _picture(slide, onboarding_charts.value_trajectory(traj, d.theme), Inches(5.3),
                 Inches(1.5), Inches(7.6))


def _voice_slide(prs, d: QbrData) -> None:
    slide = _slide(prs, "Voice of the customer",
                   f"Last {VOICE_DAYS} days: {len(d.surveys)} survey responses, {d.tickets} "
                   f"tickets ({d.escalations} escalated)")
    if len(d.surveys):
        _table(slide, d.surveys, [("responded_at", "Date", _day),
                                  ("survey", "Survey", lambda v: str(v).upper()),
                                  ("score", "Score", lambda v: f"{v:.0f}"),
                                  ("comment", "Comment", None)],
               Inches(0.5), Inches(1.5), Inches(12.3))
    else:
        _text(slide, Inches(0.5), Inches(1.6), Inches(12), Inches(1),
              [("No survey response in these days.", 18, False, _INK)])


def _renewal_slide(prs, d: QbrData) -> None:
    snap = d.a360.snapshot or {}
    days = snap.get("days_to_renewal")
    sub = "No renewal known within a year" if days is None or days != days else \
        f"Next renewal in {days:.0f} days ({_day(d.as_of + dt.timedelta(days=int(days)))})"
    if d.uses.get("renewal") and snap.get("renewal_probability") is not None and days == days:
        sub += f" · P(renew) {percent(snap['renewal_probability'])}"
    slide = _slide(prs, "Contract and renewal", sub)
    subs = d.a360.subscriptions
    subs = subs[subs["status"] == "active"] if len(subs) else subs
    _table(slide, subs, [("plan", "Plan", None), ("seats", "Seats", lambda v: f"{v:,.0f}"),
                         ("arr", "ARR", money), ("start_date", "Started", _day)],
           Inches(0.5), Inches(1.5), Inches(6.0))
    opp = d.a360.opportunities
    opp = opp[opp["status"] == "open"] if len(opp) else opp
    if len(opp):
        _table(slide, opp, [("type", "Opportunity", human), ("stage", "Stage", human),
                            ("amount", "Amount", money), ("close_date", "Close", _day)],
               Inches(6.8), Inches(1.5), Inches(6.0))


def _actions_slide(prs, d: QbrData) -> None:
    slide = _slide(prs, "Open actions and next steps",
                   f"{len(d.open_actions)} open actions as of {d.as_of:%d %b %Y}")
    if len(d.open_actions):
        _table(slide, d.open_actions, [("title", "Action", None), ("owner", "Owner", None),
                                       ("due_date", "Due", _day), ("type", "Type", human)],
               Inches(0.5), Inches(1.5), Inches(12.3))
    else:
        _text(slide, Inches(0.5), Inches(1.6), Inches(12), Inches(1),
              [("No open action.", 18, False, _INK)])
    _text(slide, Inches(0.5), Inches(6.4), Inches(12.3), Inches(0.9),
          [(n, 9, False, _GREY) for n in d.notes.values()])


SLIDES = (_title_slide, _health_slide, _usage_slide, _value_slide, _voice_slide,
          _renewal_slide, _actions_slide)


def qbr_pptx(d: QbrData) -> bytes:
    """The deck as PPTX bytes: one slide per entry of :data:`SLIDES` (title, health and its
    why, usage, value, voice of the customer, renewal, open actions), 16:9."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(_W), Emu(_H)
    with render.chart_session():
        for add in SLIDES:
            add(prs, d)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
