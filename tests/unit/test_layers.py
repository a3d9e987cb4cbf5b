"""The layer rules of docs/architecture.md, checked on the source (issue 22): each test
names the file and line that breaks a rule."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = sorted(p for p in (ROOT / "src/greendoor").rglob("*.py") if "migrations" not in p.parts)
PAGES = sorted((ROOT / "pages").glob("*.py"))
CHARTS = sorted((ROOT / "src/greendoor/charts").glob("*.py"))
APP = sorted((ROOT / "app").glob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.lineno, node.module)]
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _offending(paths, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{line}: {mod}" for p in paths for line, mod in _imports(p)
            if any(mod == f or mod.startswith(f + ".") for f in forbidden)]


def test_the_library_never_imports_streamlit():
    assert _offending(LIBRARY, ("streamlit",)) == []


def test_pages_write_no_sql_and_build_no_figure():
    """Pages call app.data for data and greendoor.charts for figures."""
    assert _offending(PAGES, ("sqlalchemy", "greendoor.store", "plotly", "duckdb",
                              "psycopg")) == []
    text = [(p, i, line) for p in PAGES for i, line in enumerate(p.read_text().splitlines(), 1)]
    figures = [f"{p.name}:{i}" for p, i, line in text
               if re.search(r"\bgo\.Figure\(|\bpx\.|make_subplots\(", line)]
    colours = [f"{p.name}:{i}: {line.strip()}" for p, i, line in text
               if re.search(r"['\"]#[0-9a-fA-F]{3,8}['\"]|rgba?\(", line)]
    assert figures == [] and colours == []


def test_chart_factories_never_query():
    assert _offending(CHARTS, ("sqlalchemy", "greendoor.store", "streamlit", "duckdb")) == []
    calls = [f"{p.name}:{i}" for p in CHARTS
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"read_sql|\.execute\(|connect\(", line)]
    assert calls == []


def test_the_app_writes_no_sql():
    """app/ caches and renders: no SQL text and no table-level queries of its own."""
    found = [f"{p.name}:{i}: {line.strip()}" for p in APP
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"\bsa\.(select|insert|update|delete|text)\(|read_sql\(", line)]
    assert found == []


@pytest.mark.parametrize("module", ["greendoor.periods", "greendoor.state", "greendoor.rules",
                                    "greendoor.metrics.core", "greendoor.charts.theme"])
def test_the_lower_layers_import_no_read_model_or_page(module):
    path = ROOT / "src" / (module.replace(".", "/") + ".py")
    assert _offending([path], ("greendoor.analytics", "greendoor.account360", "greendoor.scoring",
                               "greendoor.forecast", "greendoor.actions", "app", "pages")) == []


def test_one_audit_writer():
    """Every audit row is written by greendoor.audit.record()."""
    found = [f"{p.relative_to(ROOT)}:{i}" for p in LIBRARY if p.name != "audit.py"
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"audit_log\.insert\(|insert\(schema\.audit_log", line)]
    assert found == []
