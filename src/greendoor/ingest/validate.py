"""Validation of import files before anything is written.

Three layers, each reporting :class:`Issue` objects that name the file, the
line, the (source) column, the value and the rule broken:

1. **Parsing** text into the contract's types (numbers, booleans, dates). Date
   formats are honoured from ``--date-format`` or detected per column from
   unambiguous values (a first field > 12 means day-first); a column that stays
   ambiguous is refused with the option to pass. Nothing is guessed silently.
2. **Constraints** with pandera: required values, allowed values, ranges.
3. **Cross-row and cross-table rules**: duplicate keys (naming both lines),
   references to unknown accounts or subscriptions, date order, survey scales.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pya
import pyarrow.compute as pc

from greendoor.ingest.contract import SURVEY_SCORE_RANGES, TableSpec, max_text
from greendoor.ingest.read import RawTable

TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
DMY_RE = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{2}|\d{4})( \d{1,2}:\d{2}(:\d{2})?)?$")


@dataclasses.dataclass(frozen=True)
class Issue:
    """One problem found in an import: where it is and which rule it breaks."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = self.file + (f", line {self.line}" if self.line is not None else "")
        col = f", column {self.column}" if self.column else ""
        val = f", value {self.value!r}" if self.value not in (None, "") else ""
        return f"{where}{col}{val}: {self.rule}"


def positions(mask: pd.Series) -> np.ndarray:
    """Raw row positions (the frame's index labels) where ``mask`` is true."""
    return mask.index[mask.to_numpy(dtype=bool)].to_numpy()


class Collector:
    """Issues of one import, with the raw file each table came from."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, raw: RawTable | None, positions, column: str | None, values, rule: str,
            severity: str = "error") -> None:
        """Record one issue per position of ``raw`` (line numbers from the file; a negative
        position or no ``raw`` means no line) with its ``column``, value and ``rule``."""
        name = raw.name if raw is not None else "(import)"
        positions = np.atleast_1d(np.asarray(positions, dtype=int))
        values = list(values) if values is not None else [None] * len(positions)
        for pos, val in zip(positions, values, strict=True):
            line = int(raw.lines[pos]) if raw is not None and pos >= 0 else None
            self.issues.append(Issue(name, line, column, None if val is None else str(val),
                                     rule, severity))

    def note(self, file: str, rule: str, column: str | None = None,
             severity: str = "error", line: int | None = None) -> None:
        """Record one issue about a whole file (or one line of it) with no value."""
        self.issues.append(Issue(file, line, column, None, rule, severity))

    @property
    def errors(self) -> list[Issue]:
        """The issues of severity ``error``."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """The issues of severity ``warning``."""
        return [i for i in self.issues if i.severity == "warning"]


# --------------------------------------------------------------------------- #
# dates
# --------------------------------------------------------------------------- #
def detect_date_format(values: pd.Series, date_format: str | None = None
                       ) -> tuple[str | None, str | None]:
    """Format of a text column of dates: ``("ISO8601", None)``, a strptime format
    such as ``"%d/%m/%Y"``, or ``(None, reason)`` when it cannot be decided.

    The format most values follow wins; values that do not follow it are then
    reported row by row by parsing. ISO dates need no option. Otherwise
    ``date_format`` is used when given; without it day-first vs month-first is
    decided only by unambiguous values (a first field > 12 means day-first, a
    second field > 12 month-first); both, or neither, is refused.
    """
    v = values[values != ""]
    if v.empty:
        return "ISO8601", None
    iso = v.str.match(ISO_RE)
    if iso.all():  # the usual case: no need to read every value as day-month-year too
        return "ISO8601", None
    m = v.str.extract(DMY_RE)
    dmy = m[0].notna()
    if iso.sum() >= dmy.sum() and iso.any():
        return "ISO8601", None
    if date_format:
        return date_format, None
    if not dmy.any():
        return None, (f"unrecognised dates such as {v.iloc[0]!r}: use YYYY-MM-DD, or pass "
                      "--date-format (e.g. %d/%m/%Y)")
    m = m[dmy]
    first, second = m[0].astype(int), m[2].astype(int)
    sep = m[1].iloc[0]
    year = "%Y" if m[3].str.len().max() == 4 else "%y"
    day_first, month_first = (first > 12).any(), (second > 12).any()
    if day_first and month_first:
        return None, ("mixes day-first and month-first dates; pass --date-format to say "
                      "which applies")
    if not day_first and not month_first:
        ex = v[dmy].iloc[0]
        return None, (f"dates like {ex!r} are ambiguous (day/month or month/day): pass "
                      f"--date-format %d{sep}%m{sep}{year} or --date-format "
                      f"%m{sep}%d{sep}{year}")
    fmt = f"%d{sep}%m{sep}{year}" if day_first else f"%m{sep}%d{sep}{year}"
    if m[4].notna().any():
        fmt += " %H:%M:%S" if m[5].notna().any() else " %H:%M"
    return fmt, None


def parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    """Parse text dates with ``fmt`` (``"ISO8601"`` for ISO); unparseable -> NaT.
    Time-zone offsets are converted to UTC and dropped (naive UTC)."""
    if fmt == "ISO8601":
        out = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
        return out.dt.tz_convert(None)
    try:
        return pd.to_datetime(values, format=fmt, errors="coerce")
    except ValueError:
        # a date-only format against values with a time part: try the date prefix
        return pd.to_datetime(values.str.split(" ").str[0], format=fmt, errors="coerce")


# --------------------------------------------------------------------------- #
# parsing one table
# --------------------------------------------------------------------------- #
def parse_table(raw: RawTable, frame: pd.DataFrame, spec: TableSpec, source_cols: dict[str, str],
                issues: Collector, date_format: str | None) -> pd.DataFrame:
    """Convert a frame of text (canonical column names) to the contract's types.

    Cells that do not parse become missing and are reported; empty cells are
    missing (``None`` / ``NaN`` / ``NaT``).
    """
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        field = spec.field(col)
        src = source_cols.get(col, col)
        text = _refuse_unsafe_text(raw, frame[col].astype(str), spec.name, col, src, issues)
        parse = {"str": _parse_text, "int": _parse_number, "float": _parse_number,
                 "bool": _parse_bool}.get(field.kind, _parse_date)
        out[col] = parse(raw, text, field, src, issues, date_format)
    return out


def _parse_text(raw, text, field, src, issues, date_format) -> pd.Series:
    """Text as given (empty = missing); enumerations lower-cased, spaces and hyphens
    as underscores when that makes a known value."""
    values = text.where(text != "", None)
    if field.enum:
        norm = values.str.lower().str.replace(r"[\s\-]+", "_", regex=True)
        values = norm.where(norm.isin(field.enum), values)
    return values


def _to_float(text: pd.Series) -> pd.Series:
    """Text to float64 (missing -> NaN). Arrow's cast first (about 50x faster on a column of
    numbers); when any value is not one it reads as, pandas' ``to_numeric`` with
    ``errors="coerce"`` decides value by value (the two agree wherever Arrow reads a
    value: tested on signs, exponents, nan and inf)."""
    try:
        arr = pc.cast(pya.array(text, type=pya.string(), from_pandas=True), pya.float64())
        return pd.Series(arr.to_numpy(zero_copy_only=False), index=text.index, dtype="float64")
    except (pya.ArrowInvalid, pya.ArrowTypeError):
        return pd.to_numeric(text, errors="coerce").astype("float64")


def _parse_number(raw, text, field, src, issues, date_format) -> pd.Series:
    """Finite numbers within :data:`MAX_EXACT` (whole for an int column); anything else
    is reported at its line and left missing."""
    empty = text == ""
    num = _to_float(text.where(~empty, None))
    bad = num.isna() & ~empty
    infinite = num.notna() & ~np.isfinite(num)
    if infinite.any():  # "inf", "-inf", "1e999": never a quantity
        issues.add(raw, positions(infinite), src, text[infinite], "not a finite number")
        num = num.where(~infinite)
    huge = num.abs() > MAX_EXACT
    if huge.any():  # beyond any range of the contract, and not exact as a number
        lo, hi = field.min, field.max
        rule = (f"must be between {lo:g} and {hi:g}" if lo is not None and hi is not None
                else f"must be at most {MAX_EXACT:,.0f} in size")
        issues.add(raw, positions(huge), src, text[huge], rule)
        num = num.where(~huge)
    if field.kind == "int":
        frac = num.notna() & (num != np.floor(num))
        bad |= frac
        num = num.where(~frac).astype("Int64")
    if bad.any():
        issues.add(raw, positions(bad), src, text[bad],
                   f"not {'a whole number' if field.kind == 'int' else 'a number'}")
    return num


def _parse_bool(raw, text, field, src, issues, date_format) -> pd.Series:
    low = text.str.lower()
    val = pd.Series(pd.NA, index=text.index, dtype="boolean")
    val[low.isin(TRUE_WORDS)] = True
    val[low.isin(FALSE_WORDS)] = False
    bad = val.isna() & (text != "")
    if bad.any():
        issues.add(raw, positions(bad), src, text[bad],
                   "not true/false (true, false, yes, no, 1, 0)")
    return val


def _parse_date(raw, text, field, src, issues, date_format) -> pd.Series:
    """Dates in the column's detected format (:func:`detect_date_format`)."""
    empty = text == ""
    fmt, why = detect_date_format(text, date_format)
    if fmt is None:
        issues.note(raw.name, f"column {src}: {why}", column=src)
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    parsed = parse_dates(text.where(~empty, None), fmt)
    bad = parsed.isna() & ~empty
    if bad.any():
        shown = "YYYY-MM-DD" if fmt == "ISO8601" else fmt
        issues.add(raw, positions(bad), src, text[bad], f"not a date in format {shown}")
    return parsed.dt.normalize() if field.kind == "date" else parsed


#: Largest magnitude a number may have before the contract's ranges are checked (2^53:
#: larger whole numbers are not exact in a float, and overflow the store's integers).
MAX_EXACT = float(2**53)


def _refuse_unsafe_text(raw: RawTable, text: pd.Series, table: str, col: str, src: str,
                        issues: Collector) -> pd.Series:
    """Report cells with a NUL byte (PostgreSQL cannot store one, and no real value
    holds one) or longer than the contract allows; they are emptied so that parsing
    reports nothing more about them. Returns the text to parse."""
    nul = text.str.contains("\x00", regex=False)
    if nul.any():
        issues.add(raw, positions(nul), src, text[nul].str.replace("\x00", "\\0", regex=False)
                   .str.slice(0, 80), "contains a NUL byte")
    limit = max_text(table, col)
    long = text.str.len() > limit
    if long.any():
        issues.add(raw, positions(long), src, text[long].str.slice(0, 40) + "…",
                   f"longer than {limit:,} characters")
    bad = nul | long
    return text.where(~bad, "") if bad.any() else text


# --------------------------------------------------------------------------- #
# constraints (pandera)
# --------------------------------------------------------------------------- #
def pandera_schema(spec: TableSpec, columns) -> pa.DataFrameSchema:
    """Constraint schema for the columns present: required, enums, ranges."""
    cols = {}
    for f in spec.fields:
        if f.name not in columns:
            continue
        checks = []
        if f.enum:
            checks.append(pa.Check.isin(list(f.enum), error=f"one of {', '.join(f.enum)}"))
        if f.min is not None and f.max is not None:
            checks.append(pa.Check.in_range(f.min, f.max, error=f"between {f.min:g} and {f.max:g}"))
        elif f.min is not None:
            checks.append(pa.Check.ge(f.min, error=f">= {f.min:g}"))
        elif f.max is not None:
            checks.append(pa.Check.le(f.max, error=f"<= {f.max:g}"))
        cols[f.name] = pa.Column(nullable=not f.required, checks=checks, coerce=False)
    return pa.DataFrameSchema(cols, name=spec.name)


def check_constraints(raw: RawTable, typed: pd.DataFrame, original: pd.DataFrame, spec: TableSpec,
                      source_cols: dict[str, str], issues: Collector,
                      skip_required: set[str] = frozenset()) -> None:
    """Run the pandera schema lazily and report every failing cell.

    ``original`` holds the text as read, so an issue shows what the user wrote.
    Missing values already reported by parsing are not reported again.
    """
    check_cols = [c for c in typed.columns if c not in skip_required]
    schema = pandera_schema(spec, check_cols)
    try:
        schema.validate(typed[check_cols], lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        for (col, check), grp in fc.groupby(["column", "check"], dropna=False, sort=False):
            idx = grp["index"].dropna().astype(int).to_numpy()
            if not len(idx):
                continue
            if check == "not_nullable":
                was_empty = original[col].to_numpy()[idx] == ""
                idx = idx[was_empty]  # unparseable cells were reported already
                rule = "required value is missing"
            else:
                rule = f"must be {check}"
            if len(idx):
                issues.add(raw, idx, source_cols.get(col, col),
                           original[col].to_numpy()[idx], rule)


def check_survey_scales(raw: RawTable, typed: pd.DataFrame, source_cols, issues) -> None:
    """NPS answers 0-10, CSAT 1-5, CES 1-7 (SPEC.md "Metric definitions")."""
    if "survey" not in typed or "score" not in typed:
        return
    for survey, (lo, hi) in SURVEY_SCORE_RANGES.items():
        bad = (typed["survey"] == survey) & typed["score"].notna() & ~typed["score"].between(lo, hi)
        if bad.any():
            issues.add(raw, positions(bad), source_cols.get("score", "score"),
                       typed["score"][bad], f"{survey} scores must be between {lo} and {hi}")


def check_order(raw: RawTable, typed: pd.DataFrame, first: str, second: str, source_cols,
                issues) -> None:
    """``second`` must not be before ``first`` where both are given."""
    if first not in typed or second not in typed:
        return
    bad = typed[first].notna() & typed[second].notna() & (typed[second] < typed[first])
    if bad.any():
        issues.add(raw, positions(bad), source_cols.get(second, second),
                   typed[second][bad].dt.strftime("%Y-%m-%d"),
                   f"{second} is before {first}")


def check_duplicate_keys(raw: RawTable, typed: pd.DataFrame, key: list[str], source_cols,
                         issues: Collector) -> pd.DataFrame:
    """Same key, same content: keep one row (a warning). Same key, different
    content: an error naming both lines. Returns the frame without exact repeats."""
    if not key or any(k not in typed for k in key):
        return typed
    dup = typed.duplicated(key, keep=False) & typed[key].notna().all(axis=1)
    if not dup.any():
        return typed
    exact = typed.duplicated(keep="first")
    for _, grp in typed[dup].groupby(key, sort=False):
        content = grp.drop_duplicates()
        if len(content) > 1:
            pos = list(grp.index[:2])
            lines = [int(raw.lines[p]) for p in pos]
            issues.add(raw, pos[1], source_cols.get(key[0], key[0]),
                       [grp[key[0]].iloc[0]],
                       f"duplicate key with different content (lines {lines[0]} and {lines[1]})")
    n_exact = int((exact & dup).sum())
    if n_exact:
        issues.note(raw.name, f"{n_exact} exact duplicate rows ignored (same key, same content)",
                    severity="warning")
    return typed[~(exact & dup)]


def check_references(raw: RawTable, typed: pd.DataFrame, column: str, known: set[str],
                     target: str, source_cols, issues: Collector) -> None:
    """Every non-empty ``column`` value must name a known ``target`` row."""
    if column not in typed:
        return
    v = typed[column]
    bad = v.notna() & ~v.isin(known)
    if bad.any():
        issues.add(raw, positions(bad), source_cols.get(column, column), v[bad],
                   f"unknown {target} (not in this import nor in the store)")
