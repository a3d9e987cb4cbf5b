"""The served app's warm-up (:mod:`app.serve`): what the first visitor would otherwise pay.

Issue 23 measured a cold page at 8.9 s (median of 17 pages at 1,500 accounts, headless
Chromium), of which about 2.6 s is the first script run importing the pages' libraries
and about 3 s filling their caches. At server start, in a background thread:

1. import every module the pages and the app's own modules import (pandas, Plotly,
   scikit-learn, statsmodels and Greendoor's analytics): :func:`page_modules`;
2. fill the cache of every loader that takes only the data token and the whole
   portfolio's filters or as-of date (:func:`app.data.warm`) at the store's default
   as-of date, which every session opens on.

The warm-up gives way to visitors: before each loader it waits while a script run is in
progress and until :data:`QUIET_S` seconds after the last one ended
(:func:`run_started` and :func:`run_ended`, called around every run of the app), so a
user arriving while it runs is slowed only by the loader it is computing then (a first
visit at start took 8.9-14.0 s beside a warm-up that did not give way, against
8.2-10.3 s without a warm-up, 2 pages at 1,500 accounts).

``GREENDOOR_WARM_UP=0`` turns step 2 off (a store so large that each page's first
visit should pay only for its own loaders).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import logging
import os
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Environment variable: "0" turns off filling the loaders' caches at start.
WARM_UP_ENV = "GREENDOOR_WARM_UP"
#: The warm-up thread's name.
THREAD = "greendoor-warm-up"
LOG = logging.getLogger("greendoor.serve")
#: What the warm-up has done: ``{"state": "running"}``, then :func:`warm_up`'s figures
#: with ``"state": "done"`` (served by :mod:`app.serve` as a readiness probe).
STATUS: dict = {"state": "not started"}
#: Seconds after the last script run ended before the warm-up fills its next loader.
QUIET_S = 2.0
_runs = {"active": 0, "ended": float("-inf")}
_runs_lock = threading.Lock()


def run_started() -> None:
    """Note that a script run started (``app/streamlit_app.py`` calls it first)."""
    with _runs_lock:
        _runs["active"] += 1


def run_ended() -> None:
    """Note that a script run ended, however it ended (the app's ``finally``)."""
    with _runs_lock:
        _runs["active"] = max(0, _runs["active"] - 1)
        _runs["ended"] = time.monotonic()


def _give_way() -> None:
    """Wait while a script run is in progress and for :data:`QUIET_S` seconds after the
    last one ended."""
    while True:
        with _runs_lock:
            active, idle = _runs["active"], time.monotonic() - _runs["ended"]
        if not active and idle >= QUIET_S:
            return
        time.sleep(0.2 if active else QUIET_S - idle)


def page_modules() -> list[str]:
    """Every absolute module the app's pages and modules import, sorted (``from m
    import x`` gives ``m`` and ``m.x``: a name that is not a module is skipped on
    import); the app's own package is left out (its modules import the rest)."""
    names: set[str] = set()
    for path in sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "app").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
    return sorted(n for n in names if n.split(".")[0] not in ("app", "__future__"))


def warm_up() -> dict:
    """Steps 1 and 2 of the module docstring. Returns ``imported`` (modules),
    ``import_s`` (seconds), ``loaders`` ([(loader, seconds)] in the order filled) and
    ``loaders_s``. Never raises: a failure is logged and the pages compute as usual."""
    out: dict = {"imported": 0, "import_s": 0.0, "loaders": [], "loaders_s": 0.0}
    start = time.perf_counter()
    for name in page_modules():
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
            out["imported"] += 1
    from app import data  # the loaders and the analytics they call

    out["import_s"] = time.perf_counter() - start
    if os.environ.get(WARM_UP_ENV, "1").strip() == "0":
        return out
    start = time.perf_counter()
    try:
        token = data.data_token()
        status = data.LOADERS["store_status"](token)
        if status["accounts"] and status["default_as_of"]:
            out["loaders"] = data.warm(token, status["default_as_of"], before=_give_way)
    except Exception:  # noqa: BLE001 - the warm-up never stops the server
        LOG.exception("warm-up of the loaders failed; pages compute on their first visit")
    out["loaders_s"] = time.perf_counter() - start
    return out


def run() -> None:
    """:func:`warm_up`, keeping :data:`STATUS` and logging one line of figures."""
    STATUS.update(state="running")
    done = warm_up()
    STATUS.update(done, state="done", loaders=len(done["loaders"]))
    LOG.warning("warm-up: %d modules imported in %.1f s, %d loaders filled in %.1f s",
                done["imported"], done["import_s"], len(done["loaders"]), done["loaders_s"])


def start() -> threading.Thread:
    """Run :func:`run` in a daemon thread named :data:`THREAD`; returns the thread."""
    thread = threading.Thread(target=run, name=THREAD, daemon=True)
    thread.start()
    return thread


# Streamlit logs "missing ScriptRunContext" for each cached call made outside a session;
# the warm-up's calls are outside one by design (a renamed logger only brings them back).
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
    lambda record: threading.current_thread().name != THREAD)
