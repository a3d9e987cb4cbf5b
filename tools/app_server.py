"""Start `streamlit run app/serve.py` on a store, as the README starts it (``make run``),
for the browser tests and the page benchmark (``bench/pages_browser.py``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The app as ``make run`` serves it.
SCRIPT = "app/serve.py"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(url: str, timeout_s: float = 60.0, script: str = SCRIPT,
          **env_extra: str) -> Iterator[str]:
    """The app serving the store at ``url`` (extra environment in ``env_extra``), on a
    free port of 127.0.0.1, started from ``script`` (relative to the project: the served
    app with its warm-up, or ``app/streamlit_app.py`` without); yields its base URL and
    stops it on exit. The server's output
    goes to a file: a pipe nobody reads fills up (64 KiB of log lines) and then blocks
    the server in the middle of a page. Raises ``RuntimeError`` with the end of that
    output when the server does not answer its health check within ``timeout_s``."""
    port = free_port()
    env = {**os.environ, "GREENDOOR_DB_URL": url, **env_extra}
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / script),
             "--server.port", str(port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout_s
            while True:
                try:
                    if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    if time.time() > deadline:
                        log.seek(0)
                        raise RuntimeError("streamlit did not start: " + log.read()[-5000:]) \
                            from None
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_warm(base: str, timeout_s: float = 600.0) -> dict:
    """Wait until the served app's warm-up is done (app/serve.py's readiness route);
    returns its figures. Raises ``TimeoutError`` after ``timeout_s``."""
    import json

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with urllib.request.urlopen(f"{base}/greendoor/warm-up", timeout=5) as r:
            state = json.loads(r.read())
        if state.get("state") == "done":
            return state
        time.sleep(0.2)
    raise TimeoutError(f"the warm-up of {base} did not finish in {timeout_s:.0f} s")
