"""Screenshot Greendoor pages in headless Chromium (Debian's, launched by path).

    python tools/screenshot.py URL OUT.png [URL OUT.png ...] [--width 1920 --height 1080]

Waits until Streamlit has finished running the page (no "running" indicator, no
skeletons), then saves a full-page PNG. Needs `pip install playwright`; no
browser download (it uses /usr/bin/chromium or $CHROMIUM).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def wait_for_streamlit(page, timeout_s: float = 90.0, quiet_s: float = 1.5,
                       poll_s: float = 0.25) -> float:
    """Wait for the app to render and for the script run to complete (nothing running, no
    skeleton or spinner, for ``quiet_s``, polled every ``poll_s``). Returns the
    ``time.time()`` at which the quiet began: when the run was seen to end."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    # the first script run has painted something visible into the main area. The first
    # container can be a zero-height one (injected style, a sign-in refusal page has only
    # that and the message): waiting on "the first match" then never ends, so wait on the
    # first *visible* container instead.
    page.locator('[data-testid="stMain"] [data-testid="stElementContainer"]:visible') \
        .first.wait_for(state="visible", timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    quiet_since = None
    while time.time() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()
        skeleton = page.locator('[data-testid="stSkeleton"], [data-testid="stSpinner"]').count()
        if running == 0 and skeleton == 0:
            quiet_since = quiet_since or time.time()
            if time.time() - quiet_since > quiet_s:
                return quiet_since
        else:
            quiet_since = None
        time.sleep(poll_s)
    raise TimeoutError("Streamlit did not finish running the page")


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("pairs", nargs="+", help="URL OUT.png pairs")
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--full-page", action="store_true")
    a = p.parse_args(argv)
    if len(a.pairs) % 2:
        p.error("give URL OUT.png pairs")
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": a.width, "height": a.height})
        for url, out in zip(a.pairs[::2], a.pairs[1::2], strict=True):
            t0 = time.time()
            page.goto(url)
            wait_for_streamlit(page)
            page.screenshot(path=out, full_page=a.full_page)
            print(f"{out}: {url} rendered in {time.time() - t0:.1f} s")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
