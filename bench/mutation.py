"""Mutation testing of the metric and health-score modules with mutmut (issue 22).

    .venv/bin/python bench/mutation.py [--keep DIR]

Do the tests of ``metrics/core.py`` and ``scoring/health.py`` fail when the code they
cover is broken? mutmut (https://mutmut.readthedocs.io) changes the code one small
edit at a time (``<`` to ``<=``, ``0`` to ``1``, ``/`` to ``*``, a string to another)
and runs the tests that cover it; a mutant the tests do not notice *survives*.

The run happens in a scratch copy (mutmut writes a ``mutants/`` folder next to the
sources), with ``tests/unit/test_metrics.py`` and ``tests/unit/test_health.py``: the
hand-computed tests of these modules. Installs mutmut into this environment when it is
missing (it is not a dependency: this is a benchmark-style check, not part of CI).
Prints killed / survived / no-test counts per module and every surviving mutant as a
one-line diff, and writes the full list to ``bench/results-mutation.txt``.

Not every survivor is a missing test: a changed error message that no test matches,
``dtype=float`` dropped where the input is already float, or ``np.errstate`` switches
are equivalent or cosmetic. The report groups them so the meaningful ones stand out.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["src/greendoor/metrics/core.py", "src/greendoor/scoring/health.py"]
TESTS = ["tests/unit/test_metrics.py", "tests/unit/test_health.py"]
CONFIG = f"""

[tool.mutmut]
source_paths = ["src/greendoor"]
only_mutate = {MODULES!r}
pytest_add_cli_args_test_selection = {TESTS!r}
pytest_add_cli_args = ["-p", "no:randomly", "-q", "-x"]
"""

#: Survivors whose diff matches one of these are equivalent or cosmetic (see above).
COSMETIC = [
    (re.compile(r"raise \w+Error\("), "an error message"),
    (re.compile(r"dtype="), "a dtype argument"),
    (re.compile(r"errstate"), "a numpy warning switch"),
    (re.compile(r"float\(\"nan\"\)"), "'nan' spelled in capitals"),
]


def _mutmut() -> Path:
    exe = Path(sys.executable).with_name("mutmut")
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "mutmut>=3.3,<4"],
                       check=True)
    return exe


def _classify(diff: str) -> str:
    changed = [line for line in diff.splitlines()
               if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))]
    for pattern, what in COSMETIC:
        if all(pattern.search(line) for line in changed if line.startswith("-")):
            if what.startswith("'nan'") and not any('"NAN"' in x for x in changed):
                continue
            return what
    return "meaningful"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", help="run in this folder and keep it (default: a temporary one)")
    args = p.parse_args(argv)
    exe = _mutmut()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mutation_"))
    work.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        shutil.copytree(ROOT / name, work / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + CONFIG)
    t0 = time.perf_counter()
    subprocess.run([str(exe), "run"], cwd=work, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    results = subprocess.run([str(exe), "results", "--all", "true"], cwd=work, check=False,
                             capture_output=True, text=True).stdout
    if "survived" not in results and "killed" not in results:  # older CLI: survivors only
        results = subprocess.run([str(exe), "results"], cwd=work, check=True,
                                 capture_output=True, text=True).stdout
    status = {}
    for line in results.splitlines():
        if ":" in line:
            name, st = (s.strip() for s in line.rsplit(":", 1))
            status[name] = st
    survivors = [n for n, s in status.items() if s in ("survived", "no tests")]
    lines, kinds = [], Counter()
    for name in survivors:
        diff = subprocess.run([str(exe), "show", name], cwd=work, check=False,
                              capture_output=True, text=True).stdout
        kind = _classify(diff)
        kinds[kind] += 1
        changed = " / ".join(x.strip() for x in diff.splitlines()
                             if x.startswith(("-", "+")) and not x.startswith(("---", "+++")))
        lines.append(f"{status[name]:9s} {kind:22s} {name}: {changed}")
    per_module = Counter()
    for name, st in status.items():
        module = name.split(".x_")[0].split(".xǁ")[0]
        per_module[(module, st)] += 1
    print(f"mutmut on {', '.join(MODULES)} with {', '.join(TESTS)}: {seconds:.0f} s")
    for module in sorted({m for m, _ in per_module}):
        counts = {st: per_module[(module, st)] for _, st in per_module if _ == module}
        print(f"  {module}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    print(f"  survivors by kind: {dict(kinds)}")
    for line in lines:
        if " meaningful " in line:
            print("  " + line[:220])
    out = ROOT / "bench" / "results-mutation.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"every survivor: {out.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
