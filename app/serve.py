"""The app as served: ``streamlit run app/serve.py`` (``make run``).

An ``st.App`` around ``app/streamlit_app.py`` whose startup (its lifespan, entered once
the server's runtime has started) begins the warm-up of :mod:`app.warmup` in a
background thread: the server answers at once, and a visit during the warm-up waits
only for what it needs (an import in progress, or the same cached call: Streamlit
computes a cache entry once). ``GET /greendoor/warm-up`` answers the warm-up's state as
JSON (``{"state": "done", ...}`` once finished): a readiness probe.
``streamlit run app/streamlit_app.py`` still serves the same app, without the warm-up.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import streamlit as st
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `app` and `pages` live beside src/, not inside it
    sys.path.insert(0, str(ROOT))

from app import warmup  # noqa: E402

#: Where the warm-up's state is served.
STATUS_PATH = "/greendoor/warm-up"


@contextlib.asynccontextmanager
async def lifespan(_app):
    """Start the warm-up beside the server."""
    warmup.start()
    yield


async def status(_request) -> JSONResponse:
    """:data:`app.warmup.STATUS` as JSON."""
    return JSONResponse(warmup.STATUS)


app = st.App("streamlit_app.py", lifespan=lifespan, routes=[Route(STATUS_PATH, status)])
