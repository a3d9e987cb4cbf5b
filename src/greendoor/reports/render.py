"""Turning a report into files: Plotly figures as PNG images (Plotly's static export,
``kaleido``, which drives the installed Chromium) and self-contained HTML printed to PDF
by Chromium's own print (``--print-to-pdf``).

Both need a Chromium or Chrome: ``$CHROMIUM`` or ``$BROWSER_PATH`` when set, else the first
of ``chromium``, ``chromium-browser``, ``google-chrome`` on the ``PATH`` (Debian's
``chromium`` package). Without one, :class:`ReportError` says so; an HTML report needs
no browser when it is asked for without images.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pathlib
import shutil
import subprocess
import tempfile
import warnings

import plotly.graph_objects as go

#: Browsers looked for on the PATH, in order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Seconds Chromium may take to print one report.
PRINT_TIMEOUT_S = 120


class ReportError(RuntimeError):
    """A report could not be written (no browser, the browser failed, bad arguments)."""


def browser() -> str:
    """The Chromium executable reports use (see the module docstring); raises
    :class:`ReportError` naming what was looked for when there is none."""
    for env in ("CHROMIUM", "BROWSER_PATH"):
        path = os.environ.get(env)
        if path:
            if not pathlib.Path(path).exists():
                raise ReportError(f"${env} is {path}, which does not exist")
            return path
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ReportError("no Chromium found to render the report's charts and PDF: install "
                      "Debian's `chromium` package or set $CHROMIUM to a Chrome executable "
                      f"(looked for {', '.join(BROWSERS)} on the PATH)")


@contextlib.contextmanager
def chart_session():
    """One browser for every chart rendered inside the block (kaleido's documented sync
    server: about 1 s a chart instead of 2.5 s each starting its own browser)."""
    import kaleido

    os.environ.setdefault("BROWSER_PATH", browser())
    kaleido.start_sync_server(silence_warnings=True)
    try:
        yield
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def figure_png(fig: go.Figure, width: int = 1200, height: int | None = None,
               scale: float = 1.0) -> bytes:
    """``fig`` as PNG bytes, ``width`` x ``height`` CSS pixels (height: the figure's own)
    times ``scale``. Raises :class:`ReportError` when no browser can render it."""
    os.environ.setdefault("BROWSER_PATH", browser())
    try:
        with warnings.catch_warnings():  # "kopts ignored when using a server": none passed
            warnings.simplefilter("ignore", UserWarning)
            return fig.to_image(format="png", width=width, height=height or fig.layout.height,
                                scale=scale)
    except Exception as exc:  # kaleido raises its own types, by version
        raise ReportError(f"a chart could not be rendered as an image: {exc}") from exc


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI of ``png``, for self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML page (A4 or Letter by the page's own
    ``@page`` rule), printed by Chromium in headless mode without header or footer.
    Raises :class:`ReportError` with the browser's message when it fails."""
    exe = browser()
    with tempfile.TemporaryDirectory(prefix="greendoor-report-") as tmp:
        src, out = pathlib.Path(tmp, "report.html"), pathlib.Path(tmp, "report.pdf")
        src.write_text(html, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={out}", src.as_uri()]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ReportError(f"Chromium ({exe}) did not print the report within "
                              f"{PRINT_TIMEOUT_S} s") from exc
        if not out.exists() or out.stat().st_size == 0:
            tail = (run.stderr or run.stdout or "").strip().splitlines()[-3:]
            raise ReportError(f"Chromium ({exe}) printed no PDF (exit {run.returncode}): "
                              + " | ".join(tail))
        return out.read_bytes()
