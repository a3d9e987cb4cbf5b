"""Every page in a real browser, as a user meets it: cold, on a new as-of date, warm.

    python bench/pages_browser.py STORE.duckdb [--as-of 2026-11-22] [--pages a,b] [--out F.json]

For each page, three server starts on the store, each measured in headless Chromium:

* **cold, plain**: ``streamlit run app/streamlit_app.py`` (no warm-up: how the app was
  served before session 10) and the page opened at once;
* **cold at start**: ``streamlit run app/serve.py`` (``make run``: the warm-up of
  app/warmup.py starts beside the server) and the page opened at once, while the
  warm-up runs (a user arriving the moment the server answers);
* **cold, warmed**: ``app/serve.py`` again, the page opened once its readiness route
  (``/greendoor/warm-up``) says the warm-up is done (how long that took is recorded);
  then in that server the same page is opened with ``?as_of=`` a week earlier (**new
  date**: the loaders' caches miss, the server is warm), again at that date (**warm**: a
  reload), rerun in the app (**in-app**: the "R" key, as a widget change does,
  timed until no element is stale), and a date two weeks before the as-of date picked
  in the sidebar's calendar (**date picked**: how a user changes the date; the caches
  miss, the session and the browser's scripts stay).

First, unless ``--no-peer``, the same views of **the peer** (``bench/peer_app.py``: a
plain Streamlit portfolio page on the same store, one cached query, two Plotly charts
and the account table), served the same way: the floor that the browser, Streamlit and
this machine put under any page, side by side with Greendoor's in one run.

A visit is timed from the navigation to the end of the page's script run: the moment the
app shows something in its main area and neither the "running" indicator nor a skeleton
or spinner remains (polled every 50 ms; the end is confirmed by 1 s of quiet, not
counted); each is a full page load (a new session: the browser parses the app's and
Plotly's scripts again). Also recorded per view: the bytes the browser received over
the page's websocket (the frames Streamlit sends for that view).

``--load N`` keeps N busy processes (one core each) running for the whole run: pages as
they are served while anything else uses the CPU (a score, another visitor's page).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: url path -> page (the pages a meeting and a CSM use; Audit and Data are admin pages)
PAGES = {"": "Portfolio health", "this-week": "This week", "churn-risk": "Churn risk",
         "alerts": "Alerts", "renewals": "Renewal forecast", "expansion": "Expansion pipeline",
         "account": "Account 360", "actions": "Actions & playbooks", "team": "Team",
         "onboarding": "Onboarding", "value": "Value realization", "advocacy": "Advocacy",
         "segmentation": "Segmentation", "behavior": "Behavior",
         "model-quality": "Model quality", "data": "Data & settings", "audit": "Audit log"}


def visit(page, url: str, timeout_s: float = 300.0) -> dict:
    """Open ``url`` and time it to the end of the script run (see the module's text;
    :func:`tools.screenshot.wait_for_streamlit`)."""
    from tools.screenshot import wait_for_streamlit

    received = [0]

    def on_ws(ws):
        ws.on("framereceived", lambda payload: received.__setitem__(
            0, received[0] + len(payload)))
    page.on("websocket", on_ws)
    t0 = time.time()
    page.goto(url)
    done = wait_for_streamlit(page, timeout_s, quiet_s=1.0, poll_s=0.05)
    page.remove_listener("websocket", on_ws)
    errors = page.locator('[data-testid="stException"]').count()
    return {"seconds": round(done - t0, 3), "ws_kb": round(received[0] / 1024, 1),
            "exceptions": errors}


#: What marks a script run in progress in the browser: a stale element, a skeleton or a
#: spinner.
RUNNING = ('[data-stale="true"], [data-testid="stSkeleton"], '
           '[data-testid="stSpinner"]')


#: Installed in the page before an action: a MutationObserver notes when the action (the
#: first click or key press after it) happened, when a script run first showed (an element
#: marked stale, a skeleton or a spinner) and when none remained. Polling the page from
#: here instead missed runs shorter than a poll (a 0.2 s rerun of the Audit log was
#: reported as the 3 s the poll waited for a run to show).
_WATCH = """(sel) => {
  const w = window.__gdRun = {act: null, seen: null, end: null};
  const mark = () => { if (w.act === null) w.act = performance.now(); };
  document.addEventListener('click', mark, {capture: true, once: true});
  document.addEventListener('keydown', mark, {capture: true, once: true});
  const check = () => {
    if (w.act === null) return;
    const now = performance.now();
    if (document.querySelector(sel) !== null) { if (w.seen === null) w.seen = now; w.end = null; }
    else if (w.seen !== null && w.end === null) w.end = now;
  };
  if (window.__gdObs) window.__gdObs.disconnect();
  window.__gdObs = new MutationObserver(check);
  window.__gdObs.observe(document.body, {attributes: true, childList: true, subtree: true});
}"""
#: Polled after the action: the observer's notes, and whether a run shows now.
_STATE = "(sel) => ({...window.__gdRun, running: document.querySelector(sel) !== null})"


def _timed_run(page, action: Callable[[], None], timeout_s: float,
               quiet_s: float = 1.0) -> dict:
    """Do ``action`` (a click or a key press) and time the script run it starts, in the
    browser's own clock: from the action to the last moment no element was stale and no
    skeleton or spinner remained (:data:`_WATCH`), confirmed by ``quiet_s`` seconds
    without another (not counted; as :func:`visit` confirms a load: the observer sees
    every moment between two elements of a run, and a loader's spinner shows only after
    half a second). ``seconds`` is ``None`` when no run showed within 3 s (the action
    started none). Returns the view's record (no bytes: the same session)."""
    page.evaluate(_WATCH, RUNNING)
    t0 = time.perf_counter()
    action()
    end, quiet_from = None, None
    while True:
        w = page.evaluate(_STATE, RUNNING)
        now = time.perf_counter()
        if w["end"] is not None and not w["running"]:
            if w["end"] != end:
                end, quiet_from = w["end"], now
            elif now - quiet_from >= quiet_s:
                seconds = round((end - w["act"]) / 1000, 3)
                break
        else:
            end = None
        if (w["seen"] is None and now - t0 > 3) or now - t0 > timeout_s:
            if w["seen"] is not None:
                raise TimeoutError("the rerun did not finish")
            seconds = None
            break
        time.sleep(0.02)
    return {"seconds": seconds, "ws_kb": None,
            "exceptions": page.locator('[data-testid="stException"]').count()}


def rerun(page, timeout_s: float = 300.0) -> dict:
    """A rerun inside the app, as a widget change or the "R" key makes it (no reload:
    the browser keeps its session and scripts): timed from the key press to the moment
    no element is stale (``data-stale``) and no skeleton or spinner remains."""
    page.mouse.click(960, 1070)  # focus the page without hitting a widget
    return _timed_run(page, lambda: page.keyboard.press("r"), timeout_s)


def pick_date(page, day: dt.date, timeout_s: float = 300.0) -> dict:
    """A new as-of date picked as a user picks it: the sidebar's as-of calendar opened and
    ``day`` clicked (earlier months reached with the calendar's previous-month arrow).
    Timed from the click on the day, like :func:`rerun`: the app's session and scripts
    stay, only the page's script runs again at the new date."""
    from playwright.sync_api import TimeoutError as NotShown

    page.locator('[data-testid="stSidebar"] [data-testid="stDateInputCalendarButton"]') \
        .first.click()
    calendar = page.locator('[data-testid="stDateInputCalendar"]')
    cell = calendar.locator(f'[aria-label*="{day:%B} {day.day}, {day.year}"]').first
    for _ in range(3):
        try:
            cell.wait_for(state="visible", timeout=1500)
            break
        except NotShown:  # not in the month shown: one month back
            calendar.get_by_role("button", name="Previous month").click()
    return _timed_run(page, cell.click, timeout_s)


def _s(seconds: float | None) -> str:
    """Seconds for the printed table; "n/a" when no run was seen."""
    return "   n/a" if seconds is None else f"{seconds:6.2f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", type=Path)
    p.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 22))
    p.add_argument("--account", default="ACC-00002")
    p.add_argument("--pages", help="comma-separated url paths (\"\" is Portfolio health); "
                   "default: every page")
    p.add_argument("--out", type=Path)
    p.add_argument("--no-peer", action="store_true",
                   help="skip the plain-Streamlit peer (bench/peer_app.py)")
    p.add_argument("--load", type=int, default=0,
                   help="busy processes running beside the server (default 0)")
    a = p.parse_args(argv)
    if a.load:
        import multiprocessing as mp

        from bench.commands import _busy

        stop = mp.Event()
        procs = [mp.Process(target=_busy, args=(stop,), daemon=True) for _ in range(a.load)]
        for proc in procs:
            proc.start()
        try:
            return _main(a)
        finally:
            stop.set()
            for proc in procs:
                proc.join()
    return _main(a)


def _main(a: argparse.Namespace) -> int:
    pages = PAGES if a.pages is None else {k: PAGES[k] for k in a.pages.split(",")}
    from playwright.sync_api import sync_playwright

    from tools.app_server import serve, wait_warm
    from tools.screenshot import CHROMIUM_ARGS

    url = f"duckdb:///{a.store}"
    earlier = a.as_of - dt.timedelta(days=7)
    picked = a.as_of - dt.timedelta(days=14)
    out: dict = {"store": str(a.store), "as_of": str(a.as_of), "new_date": str(earlier),
                 "picked_date": str(picked), "load_before": os.getloadavg()[0],
                 "busy_processes": a.load, "threads": os.environ.get("GREENDOOR_THREADS", "1"),
                 "pages": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if not a.no_peer:
            with serve(url, timeout_s=90, script="bench/peer_app.py") as base:
                ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
                page = ctx.new_page()
                peer = {"cold": visit(page, f"{base}/?as_of={a.as_of}"),
                        "new_date": visit(page, f"{base}/?as_of={earlier}"),
                        "warm": visit(page, f"{base}/?as_of={earlier}"),
                        "warm_in_app": rerun(page),
                        "new_date_in_app": pick_date(page, picked)}
                ctx.close()
            out["peer"] = peer
            print("peer (bench/peer_app.py): " + "  ".join(
                f"{k} {_s(v['seconds'])} s" for k, v in peer.items()), flush=True)
        for path, title in pages.items():
            extra = f"account={a.account}&" if path == "account" else ""
            at, before = (f"{path}?{extra}as_of={d}" for d in (a.as_of, earlier))
            row = {}
            for key, script in (("cold_plain", "app/streamlit_app.py"),
                                ("cold", "app/serve.py")):
                with serve(url, timeout_s=90, script=script) as base:
                    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
                    row[key] = visit(ctx.new_page(), f"{base}/{at}")
                    ctx.close()
            with serve(url, timeout_s=90) as base:
                t0 = time.perf_counter()
                row["warm_up"] = {**wait_warm(base), "waited_s": round(time.perf_counter() - t0, 2)}
                ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
                page = ctx.new_page()
                row["cold_ready"] = visit(page, f"{base}/{at}")
                row["new_date"] = visit(page, f"{base}/{before}")
                row["warm"] = visit(page, f"{base}/{before}")
                row["warm_in_app"] = rerun(page)
                row["new_date_in_app"] = pick_date(page, picked)
                ctx.close()
            out["pages"][title] = row
            print(f"{title:20} cold plain {_s(row['cold_plain']['seconds'])} s  at start "
                  f"{_s(row['cold']['seconds'])} s  warmed {_s(row['cold_ready']['seconds'])} s "
                  f"(warm-up {row['warm_up']['waited_s']:.1f} s)  new date "
                  f"{_s(row['new_date']['seconds'])} s  reload {_s(row['warm']['seconds'])} s  "
                  f"in-app {_s(row['warm_in_app']['seconds'])} s  date picked "
                  f"{_s(row['new_date_in_app']['seconds'])} s  "
                  f"({row['warm']['ws_kb']:,.0f} KB a view)", flush=True)
        browser.close()
    rows = out["pages"].values()
    views = ("cold_plain", "cold", "cold_ready", "new_date", "warm", "warm_in_app",
             "new_date_in_app")
    timed = {k: [r[k]["seconds"] for r in rows if r[k]["seconds"] is not None] for k in views}
    out["slowest"] = {k: max(v) if v else None for k, v in timed.items()}
    out["median"] = {k: statistics.median(v) if v else None for k, v in timed.items()}
    out["exceptions"] = sum(r[k]["exceptions"] for r in rows for k in views)
    print("slowest", json.dumps(out["slowest"]))
    print("median ", json.dumps(out["median"]), "exceptions:", out["exceptions"])
    if a.out:
        a.out.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
