"""Safe output of text that users or imported files supplied.

Three places turn text into something active, and each gets one function here:

* **Markdown** (Streamlit titles, captions, warnings, info boxes, metric labels):
  ``[x](https://…)`` becomes a link, a bare ``https://…``, ``www.…``, ``name@host`` or
  ``host.com`` an automatic link, ``:red[x]`` a colour and ``$x$`` formula. :func:`md`
  backslash-escapes every ASCII punctuation character (CommonMark allows escaping any
  of them, and shows the character itself), folds line breaks, and puts an invisible
  WORD JOINER (U+2060) after every ``:`` and before every ``.`` and ``@``: Streamlit's
  link detection runs on the rendered text, where escapes and entities no longer
  count, so only a character between the parts stops it (checked in a browser,
  ``tests/e2e``). The text is shown as written.
* **Plotly labels** (hover text, tick labels, annotations) understand a few HTML tags,
  ``<a href>`` among them: :func:`plot_text` escapes ``<``, ``>`` and ``&``.
* **CSV cells** opened in a spreadsheet: a cell starting with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return is run as a formula (OWASP "CSV Injection").
  :func:`csv_cell` prefixes such a cell with a single quote, and :func:`safe_csv`
  writes a whole frame that way (numbers stay numbers: only text cells change).
"""

from __future__ import annotations

import csv
import html
import re

import pandas as pd

_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Invisible, zero-width, and not part of any link: breaks automatic link detection.
JOINER = "\u2060"


def md(value: object, limit: int | None = None) -> str:
    """``value`` as literal text inside Streamlit markdown (see the module docstring).
    ``None`` and NaN become ``"—"``; ``limit`` cuts the text (with "…") before escaping."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    text = " ".join(str(value).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("\\:", "\\:" + JOINER).replace("\\.", JOINER + "\\.") \
        .replace("\\@", JOINER + "\\@")


def plot_text(value: object) -> str:
    """``value`` as literal text in a Plotly label (no tags, so no links)."""
    return html.escape("" if value is None else str(value), quote=False)


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will show as text: text starting with ``= + - @``, a tab or a
    carriage return gets a leading ``'``; any other value is returned unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells went through :func:`csv_cell` (column names
    too); numeric, date and boolean columns are untouched."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            out[col] = s.map(csv_cell, na_action="ignore")
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV bytes (no index) with formula-like cells neutralized;
    every text cell is quoted (a bare carriage return would otherwise split a row)."""
    return neutralized(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
