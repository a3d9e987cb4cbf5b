"""Reports that leave the app (issue 21): the weekly meeting digest as HTML or PDF
(:mod:`greendoor.reports.weekly`) and a per-account QBR deck as PPTX
(:mod:`greendoor.reports.qbr`); charts rendered as images and PDF printed by Chromium
(:mod:`greendoor.reports.render`). The app's download buttons and ``greendoor report``
(for a scheduler) both call :func:`weekly_report` and :func:`qbr_report`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from greendoor.access import Principal
from greendoor.masking import masker
from greendoor.periods import Filters
from greendoor.reports.render import ReportError

#: The file formats of each report.
FORMATS = {"weekly": ("html", "pdf"), "qbr": ("pptx",), "plan": ("html", "pdf")}

__all__ = ["FORMATS", "ReportError", "plan_report", "qbr_report", "weekly_report"]


def weekly_report(conn: Connection, f: Filters, fmt: str = "pdf", since: dt.date | None = None,
                  mask: bool = False, images: bool = True) -> bytes:
    """The weekly digest of the filtered book as of ``f.as_of`` (changes since ``since``,
    default a week earlier) as ``fmt`` ``"html"`` or ``"pdf"`` bytes; account and contact
    names masked when ``mask`` (presentation mode, or a role that masks them). Raises
    :class:`ReportError` for an unknown format or when Chromium is needed and missing,
    ``ValueError`` when ``since`` is not before the as-of date."""
    from greendoor.reports import render, weekly

    if fmt not in FORMATS["weekly"]:
        raise ReportError(f"the weekly digest is written as {' or '.join(FORMATS['weekly'])}, "
                          f"not {fmt!r}")
    d = weekly.weekly_digest(conn, f, since)
    if mask:
        d = masker(conn).apply(d)
        d.masked = True
    page = weekly.weekly_html(d, images=images)
    return page.encode("utf-8") if fmt == "html" else render.html_to_pdf(page)


def qbr_report(conn: Connection, account_id: str, as_of: dt.date, mask: bool = False,
               principal: Principal | None = None) -> bytes:
    """The QBR deck of ``account_id`` as of ``as_of`` as PPTX bytes, names masked when
    ``mask``. Raises ``KeyError`` for an unknown account,
    :class:`~greendoor.access.AccessDenied` outside ``principal``'s book and
    :class:`ReportError` when the charts cannot be rendered."""
    from greendoor.reports import qbr

    d = qbr.qbr_data(conn, account_id, as_of, principal)
    if mask or (principal is not None and principal.masks_pii):
        d = masker(conn).apply(d)
    return qbr.qbr_pptx(d)


def plan_report(conn: Connection, plan_id: str, as_of: dt.date, fmt: str = "pdf",
                mask: bool = False) -> bytes:
    """A success plan (issue 20) as of ``as_of`` as ``"html"`` or ``"pdf"`` bytes, names
    masked when ``mask``. Raises ``KeyError`` for a plan unknown at ``as_of`` and
    :class:`ReportError` for another format or without Chromium (PDF)."""
    import sqlalchemy as sa

    from greendoor.analytics import onboarding as OBA
    from greendoor.reports import plan, render
    from greendoor.store import schema

    if fmt not in ("html", "pdf"):
        raise ReportError(f"a success plan is written as html or pdf, not {fmt!r}")
    detail = OBA.plan_detail(conn, plan_id, as_of)
    if not detail:
        raise KeyError(f"no success plan {plan_id!r} as of {as_of}")
    a = schema.accounts
    name = conn.execute(sa.select(a.c.name).where(
        a.c.account_id == detail["plan"]["account_id"])).scalar()
    if mask:
        m = masker(conn)
        detail, name = m.apply(detail), m.apply(name)
    page = plan.plan_html(detail, as_of, name)
    return page.encode("utf-8") if fmt == "html" else render.html_to_pdf(page)
