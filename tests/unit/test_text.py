"""Safe output (greendoor.text): markdown, Plotly labels and CSV cells, against a list
of hostile values (issue 26)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from greendoor.text import JOINER, csv_cell, md, plot_text, safe_csv

#: Values seen in the attack round of issue 26, and their relatives.
HOSTILE = [
    "[phish](https://evil.example/)",
    "[click here](https://evil.example/login)",
    "https://evil.example/login",
    "www.evil.example",
    "<a href='https://evil.example'>x</a>",
    "<script>alert(1)</script>",
    ":red[ALERT] :material/warning:",
    "$x^2$",
    "**bold** _it_ `code` ~~del~~",
    "# heading\n> quote",
    "=HYPERLINK(\"https://evil.example\",\"x\")",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r=1",
]


def unescape_md(text: str) -> str:
    """What CommonMark shows for backslash-escaped ASCII punctuation (the invisible
    word joiners that stop automatic links removed)."""
    text = text.replace(JOINER, "")
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and not text[i + 1].isalnum():
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("value", HOSTILE)
def test_md_escapes_every_markdown_trigger_and_shows_the_text(value):
    out = md(value)
    # no unescaped bracket, paren, colon, dollar, star, underscore, angle or backtick
    for ch in "[]():$*_<>`~#.":
        assert all(out[i - 1] == "\\" for i, c in enumerate(out) if c == ch), (value, out)
    assert unescape_md(out) == " ".join(value.split())  # shown as written (lines folded)


def test_md_handles_missing_and_limits():
    assert md(None) == "—" and md(float("nan")) == "—"
    assert md("abcdef", limit=4) == "abc…"
    assert md("A-1") == "A\\-1"
    # link detection is broken between the parts of a URL, an e-mail and a domain
    assert md("https://x.io") == f"https\\:{JOINER}\\/\\/x{JOINER}\\.io"
    assert md("a@b") == f"a{JOINER}\\@b"


def test_plot_text_removes_tags():
    assert plot_text("<a href='x'>y</a>") == "&lt;a href='x'&gt;y&lt;/a&gt;"
    assert plot_text(None) == ""


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_cells_never_start_a_formula(value):
    frame = pd.DataFrame({"name": [value], "arr": [-5.0], "=col": ["ok"]})
    raw = safe_csv(frame).decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    header, row = rows[0], rows[1]
    assert header == ["name", "arr", "'=col"]
    assert not row[0].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert row[0].lstrip("'") == value  # the text itself is kept
    assert row[1] == "-5.0"  # numbers are numbers, not text


def test_csv_cell_leaves_safe_values_alone():
    assert csv_cell("Acme") == "Acme" and csv_cell(3) == 3 and csv_cell(None) is None
