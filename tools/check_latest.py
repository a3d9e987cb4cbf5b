"""What would newer releases of Greendoor's dependencies break? (run it weekly)

``make run`` and ``make test`` install the versions pinned in ``constraints.txt``. This
script answers the question a maintainer asks before refreshing that lock file
(``make lock``) or raising an upper bound in ``pyproject.toml``:

1. **Newest within the bounds**: a fresh environment from ``pyproject.toml`` alone (what
   ``pip install greendoor`` would give a user today without the lock), then the test
   suite (``--tests``, default the unit tests).
2. **Newest beyond each bound**: for every dependency with an upper bound, the newest
   release on the index is installed over (1) without its dependencies, and the same
   tests run; a failure names the library whose new release breaks Greendoor.

It prints a table: package, locked version, newest within bounds, newest overall, and
the test result of each step. Exit status 0 when everything passes, 1 otherwise.

    python tools/check_latest.py                      # unit tests
    python tools/check_latest.py --tests tests        # everything (slow)
    python tools/check_latest.py --skip-beyond        # step 1 only
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kw)


def locked() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[name.strip().lower().replace("_", "-")] = version.strip()
    return out


def bounded() -> dict[str, str]:
    """Dependencies of pyproject.toml with an upper bound: ``{name: spec}``."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for d in deps:
        m = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)", d)
        if m and "<" in m.group(3):
            out[m.group(1).lower().replace("_", "-")] = m.group(3)
    return out


def installed(py: Path) -> dict[str, str]:
    res = run([str(py), "-m", "pip", "list", "--format=json"])
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(res.stdout)}


def pytest(py: Path, tests: list[str]) -> tuple[bool, str]:
    res = run([str(py), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests])
    tail = (res.stdout.strip().splitlines() or [""])[-1]
    return res.returncode == 0, tail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", nargs="+", default=["tests/unit"])
    ap.add_argument("--skip-beyond", action="store_true", help="only the newest within bounds")
    args = ap.parse_args(argv)
    lock = locked()
    with tempfile.TemporaryDirectory(prefix="greendoor-latest-") as tmp:
        venv = Path(tmp) / "venv"
        run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = venv / "bin" / "python"
        run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        res = run([str(py), "-m", "pip", "install", "-q", "-e", ".[test,postgres]"])
        if res.returncode:
            print("install within bounds failed:\n" + res.stderr[-2000:])
            return 1
        within = installed(py)
        ok, tail = pytest(py, args.tests)
        rows = [("(all, newest within bounds)", "", "", "", "pass" if ok else f"FAIL: {tail}")]
        failures = 0 if ok else 1
        if not args.skip_beyond:
            for name in bounded():
                before = within.get(name)
                res = run([str(py), "-m", "pip", "install", "-q", "--upgrade", "--no-deps", name])
                newest = installed(py).get(name)
                if res.returncode or newest == before:
                    rows.append((name, lock.get(name, "?"), before or "?", newest or "?",
                                 "no newer release" if not res.returncode else "install failed"))
                    continue
                ok, tail = pytest(py, args.tests)
                failures += not ok
                rows.append((name, lock.get(name, "?"), before or "?", newest or "?",
                             "pass" if ok else f"FAIL: {tail}"))
                run([str(py), "-m", "pip", "install", "-q", "--no-deps", f"{name}=={before}"])
        for name, ver in sorted(within.items()):
            if name in lock and lock[name] != ver and name not in bounded():
                rows.append((name, lock[name], ver, "", "newer within bounds"))
    width = [max(len(str(r[i])) for r in rows) for i in range(4)]
    print(f"{'package':<{width[0]}}  {'locked':<{width[1]}}  {'within':<{width[2]}}  "
          f"{'newest':<{width[3]}}  result")
    for r in rows:
        print(f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]:<{width[2]}}  {r[3]:<{width[3]}}  "
              f"{r[4]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
