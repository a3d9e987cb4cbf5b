"""Reports that leave the app (issue 21): the weekly digest (HTML, PDF) and the QBR deck
(PPTX) carry the figures the pages show, honour masking and the as-of date, leave out
models without skill, and the CLI writes them for a scheduler."""

import datetime as dt
import io
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa
from pptx import Presentation

from greendoor import actions, reports
from greendoor.analytics import churn_risk, portfolio_health
from greendoor.cli import main
from greendoor.periods import Filters, default_as_of
from greendoor.reports import qbr, render, weekly
from greendoor.store import schema
from tests.conftest import missing


def _need_browser():
    try:
        render.browser()
    except render.ReportError as exc:
        missing(str(exc))


def _as_of(eng) -> dt.date:
    with eng.connect() as conn:
        return default_as_of(conn)


def _deck_text(pptx: bytes) -> str:
    prs = Presentation(io.BytesIO(pptx))
    parts = []
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts += [c.text for row in shape.table.rows for c in row.cells]
    return "\n".join(parts)


def test_digest_figures_are_the_pages_figures(scored_demo_store):
    _, eng = scored_demo_store
    f = Filters(as_of=_as_of(eng))
    with eng.connect() as conn:
        d = weekly.weekly_digest(conn, f)
        kpis = portfolio_health.kpis(conn, f)
        before = portfolio_health.kpis(conn, Filters(as_of=f.as_of - dt.timedelta(days=7)))
        queue = churn_risk.at_risk_queue(conn, f)
    assert d.since == f.as_of - dt.timedelta(days=7)
    # (the engine sums ARR in parallel: the last bits of a float may differ between calls)
    assert d.kpis == pytest.approx(kpis, nan_ok=True)
    assert d.kpis_before == pytest.approx(before, nan_ok=True)
    # the top risks are the head of the Churn risk page's queue, in its order
    assert list(d.risks["account_id"]) == list(queue["account_id"].head(d.top))
    assert d.top == 10  # the setting report_top_accounts' default
    page = weekly.weekly_html(d, images=False)
    assert "Weekly customer-success digest" in page
    assert queue["name"].iloc[0] in page
    assert f"data as of {f.as_of:%d %b %Y}" in page


def test_digest_leaves_out_models_without_skill(scored_demo_store, monkeypatch):
    _, eng = scored_demo_store
    f = Filters(as_of=_as_of(eng))
    with eng.connect() as conn:
        d = weekly.weekly_digest(conn, f)
    assert d.uses["churn"] and d.uses["renewal"]  # the store assumes skill (conftest)
    page = weekly.weekly_html(d, images=False)
    assert "Why (churn drivers)" in page and "P(renew)" in page
    d.uses = {"churn": False, "renewal": False, "expansion": False}
    page = weekly.weekly_html(d, images=False)
    assert "Why (churn drivers)" not in page and "P(renew)" not in page


def test_digest_masks_names_and_escapes_text(scored_demo_store):
    _, eng = scored_demo_store
    f = Filters(as_of=_as_of(eng))
    with eng.connect() as conn:
        names = pd.read_sql(sa.select(schema.accounts.c.name), conn)["name"]
        page = reports.weekly_report(conn, f, "html", mask=True, images=False).decode()
    assert "names masked" in page
    shown = [n for n in names if n in page]
    assert not shown, f"real names in a masked digest: {shown[:3]}"
    assert "Account 0" in page


def test_digest_lists_the_weeks_decisions_and_not_later_ones(scored_store_copy):
    _, eng = scored_store_copy
    as_of = _as_of(eng)
    with eng.connect() as conn:
        aid = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    actions.create_task(eng, aid, "Call the sponsor about the digest", "Ana Smith",
                        as_of + dt.timedelta(days=7))
    with eng.connect() as conn:
        now = weekly.weekly_digest(conn, Filters(as_of=as_of))
        past = weekly.weekly_digest(conn, Filters(as_of=as_of - dt.timedelta(days=30)))
    assert "Call the sponsor about the digest" in set(now.decisions["title"])
    # at a past date the week is that week: an action taken today is not in it
    assert "Call the sponsor about the digest" not in set(past.decisions["title"])


def test_digest_start_must_be_before_its_date(scored_demo_store):
    _, eng = scored_demo_store
    as_of = _as_of(eng)
    with eng.connect() as conn, pytest.raises(ValueError, match="must be before"):
        weekly.weekly_digest(conn, Filters(as_of=as_of), since=as_of)


def test_kpi_change_that_rounds_to_zero_reads_no_change():
    pts = lambda v: f"{v * 100:+.1f} pts"  # noqa: E731
    # 90.31 % - 90.312 % = -0.002 points: shown to one decimal it is no change
    assert weekly._delta(0.9031, 0.90312, pts) == "no change this week"
    # 90 % - 89 % = +1.0 point
    assert weekly._delta(0.90, 0.89, pts) == "+1.0 pts since the start of the week"
    assert weekly._delta(float("nan"), 0.5, pts) == ""


def test_weekly_pdf_opens_with_its_pages(scored_demo_store):
    _need_browser()
    pdfium = pytest.importorskip("pypdfium2")
    _, eng = scored_demo_store
    with eng.connect() as conn:
        pdf = reports.weekly_report(conn, Filters(as_of=_as_of(eng)), "pdf")
    assert pdf.startswith(b"%PDF")
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) >= 2
    first = doc[0].get_textpage().get_text_range()
    assert "Weekly customer-success digest" in first and "GRR" in first
    images = [o for o in doc[0].get_objects() if o.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE]
    assert images, "the ARR bridge chart is missing from the first page"


def test_qbr_deck_reads_back(scored_demo_store):
    _need_browser()
    _, eng = scored_demo_store
    as_of = _as_of(eng)
    with eng.connect() as conn:
        aid = churn_risk.at_risk_queue(conn, Filters(as_of=as_of))["account_id"].iloc[0]
        name = conn.execute(sa.select(schema.accounts.c.name)
                            .where(schema.accounts.c.account_id == aid)).scalar()
        pptx = reports.qbr_report(conn, aid, as_of)
        masked = reports.qbr_report(conn, aid, as_of, mask=True)
    prs = Presentation(io.BytesIO(pptx))
    assert len(prs.slides) == len(qbr.SLIDES) == 7
    titles = [next(s.text_frame.text.split("\n")[0] for s in slide.shapes if s.has_text_frame)
              for slide in prs.slides]
    assert titles[0] == name
    assert titles[1:] == ["Health and its why", "Usage and adoption", "Value and ROI",
                          "Voice of the customer", "Contract and renewal",
                          "Open actions and next steps"]
    for i, slide in enumerate(prs.slides):  # every shape on the slide, none over another
        boxes = [(s.left, s.top, s.left + s.width, s.top + s.height) for s in slide.shapes]
        assert all(r <= prs.slide_width and b <= prs.slide_height for *_, r, b in boxes), i
        for j, (x1, y1, x2, y2) in enumerate(boxes):
            for u1, v1, u2, v2 in boxes[j + 1:]:
                assert not (x1 < u2 and u1 < x2 and y1 < v2 and v1 < y2), f"slide {i}"
    pictures = [s for slide in prs.slides for s in slide.shapes if s.shape_type == 13]
    assert len(pictures) == 2  # health history and weekly usage
    text = _deck_text(pptx)
    assert "P(churn, 90 days)" in text and "no value measurements" in text
    assert name not in _deck_text(masked) and "Account 0" in _deck_text(masked)


def test_qbr_without_skill_shows_no_model_probability(scored_demo_store, monkeypatch):
    _, eng = scored_demo_store
    as_of = _as_of(eng)
    monkeypatch.setattr(qbr.skill.Gates, "uses", lambda self, kind: False)
    monkeypatch.setattr(render, "figure_png", lambda *a, **k: _PNG)
    monkeypatch.setattr(render, "chart_session", _no_session)
    with eng.connect() as conn:
        aid = conn.execute(sa.select(schema.score_snapshots.c.account_id).limit(1)).scalar()
        text = _deck_text(reports.qbr_report(conn, aid, as_of))
    assert "P(churn" not in text and "P(renew)" not in text
    assert "no measurable skill" in text or "not measured" in text


def test_qbr_at_a_past_date_has_no_later_actions(scored_store_copy, monkeypatch):
    _, eng = scored_store_copy
    as_of = _as_of(eng)
    monkeypatch.setattr(render, "figure_png", lambda *a, **k: _PNG)
    monkeypatch.setattr(render, "chart_session", _no_session)
    with eng.connect() as conn:
        aid = conn.execute(sa.select(schema.accounts.c.account_id).limit(1)).scalar()
    actions.create_task(eng, aid, "Prepare the QBR agenda", "Ana Smith",
                        as_of + dt.timedelta(days=5))
    with eng.connect() as conn:
        now = qbr.qbr_data(conn, aid, as_of)
        past = qbr.qbr_data(conn, aid, as_of - dt.timedelta(days=60))
    assert "Prepare the QBR agenda" in set(now.open_actions["title"])
    assert "Prepare the QBR agenda" not in set(past.open_actions["title"])
    assert (pd.to_datetime(past.surveys["responded_at"])
            < pd.Timestamp(as_of - dt.timedelta(days=60))).all()
    with eng.connect() as conn, pytest.raises(KeyError, match="no account"):
        qbr.qbr_data(conn, "NOPE", as_of)


def test_report_command_writes_files_and_refuses_bad_requests(scored_store_copy, tmp_path,
                                                              capsys):
    url, eng = scored_store_copy
    eng.dispose()
    out = tmp_path / "digest.html"
    assert main(["--db-url", url, "report", "weekly", "--out", str(out), "--no-charts",
                 "--mask"]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "names masked" in page
    assert not list(tmp_path.glob("*.part"))
    assert main(["--db-url", url, "report", "weekly", "--out", str(tmp_path / "d.docx")]) == 2
    assert "written as .html or .pdf" in capsys.readouterr().err
    assert main(["--db-url", url, "report", "qbr", "NOPE", "--out",
                 str(tmp_path / "q.pptx")]) == 2
    assert "no account with id 'NOPE'" in capsys.readouterr().err
    assert not (tmp_path / "q.pptx").exists()


def test_missing_browser_is_said_in_words(monkeypatch):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(render.ReportError, match="install Debian's `chromium`"):
        render.html_to_pdf("<p>x</p>")
    monkeypatch.setenv("CHROMIUM", "/nowhere/chrome")
    with pytest.raises(render.ReportError, match="does not exist"):
        render.browser()


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 2), "white").save(buf, format="PNG")
    return buf.getvalue()


# a small PNG: the deck's layout without starting a browser
_PNG = _png()


class _no_session:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
