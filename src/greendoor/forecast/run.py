"""``greendoor forecast``: fit every series, store forecasts and backtests.

Series: monthly ARR, renewed, churned and expansion ARR, trailing GRR and NRR for
the portfolio and each segment, and weekly portfolio ARR. Each is forecast with
"auto" (the lowest backtest MASE, quarter-ahead for monthly series) over 12 months
(13 weeks for weekly). Fits run in parallel processes. Also the bottom-up renewal
forecast (:mod:`.renewals`). Results replace the previous run's.

Nothing is fitted twice: each series carries a fingerprint (its points, horizon,
frequency, :data:`FIT_VERSION` and the forecasting libraries' versions) and a series
whose fingerprint equals the previous run's keeps that run's forecast and backtest;
the past quarters' forecast-vs-actual (which retrains a churn model per quarter) is
kept while :func:`greendoor.scoring.run.inputs_fingerprint` (as-of date, settings
version, latest import, demo parameters, a digest of the canonical data) is unchanged;
when it, the horizon, :data:`FIT_VERSION` and the libraries are all unchanged, the
series are not even rebuilt (a repeated run at 1,500 accounts: 33.7 s -> 8.9 s with
the series rebuilt and compared, and less without). ``refit=True``
(``greendoor forecast --refit``) fits everything again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd
import sqlalchemy as sa
from joblib import Parallel, delayed
from sqlalchemy.engine import Engine

from greendoor.forecast import CannotFit, fit_forecast
from greendoor.forecast import renewals as FR
from greendoor.forecast import series as FS
from greendoor.periods import default_as_of, filter_options
from greendoor.store import schema
from greendoor.store.bulk import bulk_insert
from greendoor.store.engine import new_id

#: Bump when fitting, model choice or backtests change: stored fits from an earlier
#: version are not reused.
FIT_VERSION = 1
#: Libraries whose version is part of a fit's fingerprint.
FIT_LIBRARIES = ("prophet", "statsmodels", "numpy", "pandas")
#: Weeks ahead of the weekly ARR forecast.
WEEKLY_HORIZON = 13
PORTFOLIO = "all"


@dataclasses.dataclass
class ForecastReport:
    """What one forecast run did: its id and as-of date, series fitted of those attempted,
    the skipped ones with their reason, the portfolio ARR backtest (models x horizon) and the
    model chosen per series."""
    run_id: str
    as_of: dt.date
    series: int = 0
    fitted: int = 0
    skipped: list = dataclasses.field(default_factory=list)
    portfolio_arr_backtest: pd.DataFrame | None = None
    chosen: dict = dataclasses.field(default_factory=dict)
    upcoming: pd.DataFrame | None = None
    past: pd.DataFrame | None = None
    seconds: dict = dataclasses.field(default_factory=dict)
    #: series kept from the previous run (their points were unchanged) and whether the
    #: past quarters were kept; ``None`` when there was nothing to reuse or refit was asked
    reused_fits: int = 0
    past_reused: bool = False
    previous_run: str | None = None

    def _backtest_lines(self) -> list[str]:
        bt = self.portfolio_arr_backtest
        if bt is None:
            return []
        lines = ["  portfolio monthly ARR, backtest (up to the forecast horizon, rolling "
                 "origin; coverage of the 80 % interval: model's own / calibrated):"]
        for r in bt.itertuples():
            if r.status == "ok":
                lines.append(f"    {r.model:<15} MAPE {r.mape:7.2%}  sMAPE {r.smape:7.2%}  "
                             f"MASE {r.mase:6.3f}  coverage {r.coverage:5.0%} / "
                             f"{r.coverage_calibrated:5.0%}  cutoffs {r.cutoffs}"
                             f"{'  <- chosen' if r.chosen else ''}")
            else:
                lines.append(f"    {r.model:<15} skipped: {r.reason}")
        return lines

    def summary(self) -> str:
        """The run as text for the command line: counts, the ARR backtest beside its baselines,
        and the skipped series."""
        lines = [f"forecast run {self.run_id[:8]} as of {self.as_of}: {self.fitted} of "
                 f"{self.series} series forecast"]
        if self.previous_run:
            lines.append(f"  reused from run {self.previous_run[:8]}: {self.reused_fits} of "
                         f"{self.series} series (their points did not change)"
                         + ("; the past quarters (same as-of date, settings and data)"
                            if self.past_reused else "")
                         + " -- `greendoor forecast --refit` fits everything again")
        lines += self._backtest_lines()
        for key, why in self.chosen.items():
            lines.append(f"  {key}: {why}")
        if self.upcoming is not None and len(self.upcoming):
            q = self.upcoming[self.upcoming["period"] == "quarter"]
            lines.append("  renewals due (bottom-up, expected renewed ARR with P10-P90):")
            for r in q.itertuples():
                lines.append(f"    {r.period_start:%Y-%m}: {r.renewals:>5} renewals, ${r.arr_due:>13,.0f} "
                             f"due, expected ${r.expected:>13,.0f} (P10 ${r.p10:,.0f} - P90 "
                             f"${r.p90:,.0f})")
        if self.past is not None and len(self.past):
            lines.append("  past quarters (forecast at the quarter's start vs actual):")
            for r in self.past.itertuples():
                if np.isnan(r.forecast):
                    lines.append(f"    {r.quarter_start:%Y-%m}: {r.reason}")
                else:
                    lines.append(f"    {r.quarter_start:%Y-%m}: forecast ${r.forecast:,.0f}, actual "
                                 f"${r.actual:,.0f}, accuracy {r.accuracy:.1%} (constant "
                                 f"rate {r.constant_accuracy:.1%}, last quarter's rate "
                                 f"{r.last_quarter_accuracy:.1%}), "
                                 f"{'inside' if r.inside else 'outside'} P10-P90")
            b = FR.beats_baselines(self.past)
            if b["quarters"]:
                lines.append(f"    mean accuracy {b['model']:.1%} vs {b['baselines'][b['best']]:.1%} "
                             f"for the best baseline ({FR.BASELINES[b['best']][0]}): "
                             + ("the model beats it" if b["beats"] else
                                "the model does NOT beat it"))
        for s in self.skipped:
            lines.append(f"  not forecast: {s}")
        lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return "\n".join(lines)


def _fit_one(name: str, segment: str, freq: str, frame: pd.DataFrame, horizon: int) -> dict:
    out = {"series": name, "segment": segment, "freq": freq, "rows": [], "backtest": None,
           "model": None, "reason": None, "horizon": horizon, "interval": None}
    s = frame.rename(columns={name: "y"})[["ds", "y"]].dropna()
    for r in s.itertuples():
        out["rows"].append({"ds": r.ds.date(), "kind": "actual", "y": float(r.y)})
    if len(s) < 3:
        out["reason"] = f"{len(s)} points of history"
        return out
    if s["y"].nunique() <= 1:
        out["reason"] = (f"constant at {s['y'].iloc[0]:,.0f} over the whole history: nothing to "
                         "forecast (e.g. no renewal dates or subscription ends in the data)")
        return out
    try:
        f = fit_forecast(s, horizon, "auto")
    except (CannotFit, ValueError) as exc:
        out["reason"] = str(exc)
        return out
    out["model"] = f["model"].iloc[0]
    out["why"] = f.attrs["reason"] + "; interval: " + f.attrs["interval"]
    out["interval"] = f.attrs["interval"]
    out["backtest"] = f.attrs["backtest"]
    for r in f.itertuples():
        out["rows"].append({"ds": r.ds.date(), "kind": "forecast", "yhat": float(r.yhat),
                            "yhat_lower": float(r.yhat_lower), "yhat_upper": float(r.yhat_upper),
                            "model": r.model})
    return out


def _library_versions() -> list[str]:
    out = []
    for lib in FIT_LIBRARIES:
        try:
            out.append(f"{lib}=={version(lib)}")
        except PackageNotFoundError:
            out.append(f"{lib} missing")
    return out


def _key(name: str, segment: str, freq: str) -> str:
    return f"{name}|{segment}|{freq}"


def series_fingerprint(name: str, segment: str, freq: str, frame: pd.DataFrame,
                       horizon: int) -> str:
    """SHA-256 (hex) of what a series' fit depends on: its points (``ds`` and the
    ``name`` column rounded to 1e-6, in order), its key, the horizon, :data:`FIT_VERSION` and the
    versions of :data:`FIT_LIBRARIES`. Equal fingerprints give equal fits."""
    h = hashlib.sha256(json.dumps([name, segment, freq, int(horizon), FIT_VERSION,
                                   _library_versions()]).encode())
    # rounded to 1e-6: a sum over many rows differs in its last bits from run to run
    # (the engine adds in parallel, in no fixed order)
    points = frame[["ds", name]].reset_index(drop=True).round({name: 6})
    h.update(pd.util.hash_pandas_object(points, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _previous(conn) -> tuple[str | None, dict]:
    """The latest run's id and its ``detail_json`` (empty when there is none)."""
    fr = schema.forecast_runs
    row = conn.execute(sa.select(fr.c.run_id, fr.c.detail_json)
                       .order_by(fr.c.created_at.desc()).limit(1)).first()
    if row is None:
        return None, {}
    return row.run_id, json.loads(row.detail_json or "{}")


def _stored_fits(conn, run_id: str, keep: dict[str, dict]) -> dict[str, dict]:
    """The previous run's results (as :func:`_fit_one` returns them) of the series in
    ``keep`` (key -> stored fit detail)."""
    if not keep:
        return {}
    f = pd.read_sql(sa.select(schema.forecasts).where(schema.forecasts.c.run_id == run_id),
                    conn)
    bt = pd.read_sql(sa.select(schema.forecast_backtests)
                     .where(schema.forecast_backtests.c.run_id == run_id), conn)
    ids = ["series", "segment", "freq"]
    f_by = {_key(*k): g for k, g in f.groupby(ids)}
    bt_by = {_key(*k): g for k, g in bt.groupby(ids)}
    out = {}
    for key, meta in keep.items():
        name, segment, freq = key.split("|")
        rows = []
        for r in f_by.get(key, f.iloc[:0]).sort_values(["kind", "ds"]).itertuples():
            if r.kind == "actual":
                rows.append({"ds": pd.Timestamp(r.ds).date(), "kind": "actual",
                             "y": float(r.y)})
            else:
                rows.append({"ds": pd.Timestamp(r.ds).date(), "kind": "forecast", "yhat": float(r.yhat),
                             "yhat_lower": float(r.yhat_lower),
                             "yhat_upper": float(r.yhat_upper), "model": r.model})
        b = bt_by.get(key)
        out[key] = {"series": name, "segment": segment, "freq": freq, "rows": rows,
                    "backtest": (None if b is None else b.drop(
                        columns=["run_id", *ids, "horizon", "chosen"]).reset_index(drop=True)),
                    "model": meta.get("model"), "reason": meta.get("reason"),
                    "why": meta.get("why"), "interval": meta.get("interval"),
                    "horizon": meta["horizon"], "fingerprint": meta["fingerprint"],
                    "reused": True}
    return out


def _stored_past(conn, run_id: str) -> pd.DataFrame:
    """The previous run's past quarters, as :func:`.renewals.past_quarters` returns them."""
    rf = schema.renewal_forecasts
    stored = pd.read_sql(sa.select(rf).where(rf.c.run_id == run_id, rf.c.kind == "past")
                         .order_by(rf.c.period_start), conn)
    rows = []
    for r in stored.itertuples():
        d = json.loads(r.detail_json or "{}")
        row = {"quarter_start": pd.Timestamp(r.period_start), "renewals": int(r.renewals),
               "arr_due": r.arr_due, "forecast": r.expected, "p10": r.p10, "p90": r.p90,
               "actual": r.actual, "accuracy": r.accuracy, "inside": d.pop("inside", None),
               "model": d.pop("model", None), "reason": d.pop("reason", None)}
        row.update({k: (np.nan if v is None else v) for k, v in d.items()})
        rows.append(row)
    out = pd.DataFrame(rows)
    for c in out.columns.drop(["quarter_start", "inside", "model", "reason"], errors="ignore"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


def _tasks(conn, as_of: dt.date, horizon: int) -> list[tuple]:
    """Every series to fit: ``(series, segment, freq, frame, horizon)``."""
    tasks = []
    for seg in [None, *filter_options(conn)["segments"]]:
        m = FS.monthly(conn, as_of, seg)
        for name in FS.MONTHLY_SERIES:
            tasks.append((name, seg or PORTFOLIO, "MS", m[["ds", name]], horizon))
    tasks.append(("arr", PORTFOLIO, "W", FS.weekly_arr(conn, as_of), WEEKLY_HORIZON))
    return tasks


def _series_rows(results: list[dict], run_id: str, report: ForecastReport
                 ) -> tuple[list[dict], list[dict]]:
    """The forecast and backtest rows of every fitted series; the report's counts."""
    f_rows, b_rows = [], []
    for r in results:
        key = f"{r['series']} ({r['segment']}, {r['freq']})"
        ids = {"run_id": run_id, "series": r["series"], "segment": r["segment"], "freq": r["freq"]}
        f_rows += [{**ids, **row} for row in r["rows"]]
        if r["model"] is None:
            report.skipped.append(f"{key}: {r['reason']}")
            continue
        report.fitted += 1
        if r["segment"] == PORTFOLIO and r["freq"] == "MS":
            report.chosen[key] = f"{r['model']}: {r['why']}"
        bt = r["backtest"]
        if bt is None:
            continue
        bt = bt.assign(chosen=bt["model"] == r["model"])
        if r["series"] == "arr" and r["segment"] == PORTFOLIO and r["freq"] == "MS":
            report.portfolio_arr_backtest = bt
        b_rows += [{**ids, "horizon": r["horizon"],
                    **{k: (None if isinstance(v, float) and np.isnan(v) else v)
                       for k, v in row.items()}} for row in bt.to_dict("records")]
    return f_rows, b_rows


def _renewal_rows(run_id: str, months: pd.DataFrame, quarters: pd.DataFrame,
                  cats: pd.DataFrame, past: pd.DataFrame) -> list[dict]:
    """``renewal_forecasts`` rows: upcoming months and quarters, and past quarters with
    their baselines."""
    rf = []
    for period, frame in (("month", months), ("quarter", quarters)):
        for row in frame.to_dict("records"):
            ps = pd.Timestamp(row.pop("period_start"))
            detail = {"unscored": row.pop("unscored")}
            if period == "quarter" and ps in cats.index:
                detail["categories"] = {k: float(v) for k, v in cats.loc[ps].items()}
            rf.append({"run_id": run_id, "kind": "upcoming", "period": period,
                       "period_start": ps.date(), **row, "detail_json": json.dumps(detail)})
    for row in past.to_dict("records"):
        baselines = {k: (None if v != v else v) for k, v in row.items()
                     if k.startswith(tuple(FR.BASELINES))}
        rf.append({"run_id": run_id, "kind": "past", "period": "quarter",
                   "period_start": row["quarter_start"].date(), "renewals": row["renewals"],
                   "arr_due": row["arr_due"], "expected": row["forecast"], "p10": row["p10"],
                   "p50": None, "p90": row["p90"], "actual": row["actual"],
                   "accuracy": row["accuracy"],
                   "detail_json": json.dumps({"model": row["model"], "reason": row["reason"],
                                              "inside": row["inside"], **baselines})})
    return rf


def _write(engine: Engine, report: ForecastReport, f_rows, b_rows, rf, seconds: float,
           reuse: dict) -> None:
    """Replace the stored forecasts with this run's, in one transaction; ``reuse`` (each
    series' fingerprint and fit detail, the past quarters' fingerprint) goes into the
    run's ``detail_json`` for the next run."""
    with engine.begin() as conn:
        for t in (schema.forecasts, schema.forecast_backtests, schema.renewal_forecasts):
            conn.execute(t.delete())
        bulk_insert(conn, schema.forecasts, pd.DataFrame(f_rows))
        if b_rows:
            bulk_insert(conn, schema.forecast_backtests, pd.DataFrame(b_rows))
        if rf:
            frame = pd.DataFrame(rf).reindex(columns=[c.name for c in schema.renewal_forecasts.c])
            for c in ("expected", "p10", "p50", "p90", "actual", "accuracy", "arr_due"):
                frame[c] = pd.to_numeric(frame[c], errors="coerce")
            bulk_insert(conn, schema.renewal_forecasts, frame)
        conn.execute(schema.forecast_runs.insert().values(
            run_id=report.run_id, created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            as_of=report.as_of, seconds=seconds,
            detail_json=json.dumps({"series": report.series, "fitted": report.fitted,
                                    "skipped": report.skipped, **reuse})))


def run_forecasts(engine: Engine, as_of: dt.date | None = None, horizon: int = 12,
                  n_jobs: int = 2, progress: Callable[[float, str], None] | None = None,
                  past_quarters: int = 4, refit: bool = False) -> ForecastReport:
    """Fit and store every series (monthly ARR, renewed, churned and expansion ARR, GRR
    and NRR for the portfolio and each segment, ``horizon`` months ahead; weekly ARR) with
    its backtest, and the bottom-up renewal forecast with ``past_quarters`` of
    forecast-vs-actual. Series whose points did not change since the previous run, and
    the past quarters when their inputs did not, are kept from it (module docstring)
    unless ``refit``. Raises ``ValueError`` for an empty store."""
    from greendoor.scoring.run import inputs_fingerprint
    from greendoor.settings import current

    step = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    secs = {}
    with engine.connect() as conn:
        as_of = as_of or default_as_of(conn)
        if as_of is None:
            raise ValueError("the store has no data to forecast")
        past_print = {**inputs_fingerprint(conn, as_of, current(conn)[0]),
                      "past_quarters": past_quarters}
        # what every series depends on: with the same data, settings, as-of date, horizon
        # and libraries, the series are not even rebuilt (their points would be equal)
        inputs = {**past_print, "horizon": horizon, "fit_version": FIT_VERSION,
                  "libraries": _library_versions()}
        prev_id, prev = (None, {}) if refit else _previous(conn)
        if prev_id and prev.get("inputs_fingerprint") == inputs and prev.get("fits"):
            tasks = []
            prints = {k: v["fingerprint"] for k, v in prev["fits"].items()}
            keep = prev["fits"]
        else:
            tasks = _tasks(conn, as_of, horizon)
            prints = {_key(*t[:3]): series_fingerprint(*t) for t in tasks}
            keep = {k: v for k, v in prev.get("fits", {}).items()
                    if prints.get(k) == v.get("fingerprint")}
        stored = _stored_fits(conn, prev_id, keep) if prev_id else {}
        past_kept = bool(prev_id) and prev.get("past_fingerprint") == past_print
        past = _stored_past(conn, prev_id) if past_kept else None
    secs["series"] = time.perf_counter() - t0
    # fitting needs no connection: an embedded store is free for the app meanwhile
    todo = [t for t in tasks if _key(*t[:3]) not in stored]
    step(0.1, f"Fitting {len(todo)} of {len(prints)} series")
    t1 = time.perf_counter()
    fitted = iter(Parallel(n_jobs=n_jobs)(delayed(_fit_one)(*t) for t in todo) if todo else [])
    results = [stored.get(k) or next(fitted) for k in prints]
    secs["fits"] = time.perf_counter() - t1
    step(0.7, "Renewal forecast")
    t2 = time.perf_counter()
    with engine.connect() as conn:
        up = FR.upcoming(conn, as_of)
    months, quarters = FR.simulate(up, "month"), FR.simulate(up, "quarter")
    cats = FR.categories(up, "quarter").set_index("period_start")
    if past is None:
        past = (FR.past_quarters(engine, as_of, past_quarters) if past_quarters
                else pd.DataFrame())
    secs["renewals"] = time.perf_counter() - t2
    report = ForecastReport(run_id=new_id(), as_of=as_of, series=len(results),
                            reused_fits=len(stored), past_reused=past_kept,
                            previous_run=prev_id if (stored or past_kept) else None)
    f_rows, b_rows = _series_rows(results, report.run_id, report)
    rf = _renewal_rows(report.run_id, months, quarters, cats, past)
    report.upcoming = pd.DataFrame([r for r in rf if r["kind"] == "upcoming"])
    if len(report.upcoming):
        report.upcoming["period_start"] = pd.to_datetime(report.upcoming["period_start"])
    report.past = past
    reuse = {"fits": {_key(r["series"], r["segment"], r["freq"]): {
        "fingerprint": prints[_key(r["series"], r["segment"], r["freq"])],
        "horizon": r["horizon"], **{k: r.get(k) for k in ("model", "reason", "why", "interval")}}
        for r in results}, "past_fingerprint": past_print, "inputs_fingerprint": inputs}
    step(0.9, "Writing")
    t3 = time.perf_counter()
    _write(engine, report, f_rows, b_rows, rf, time.perf_counter() - t0, reuse)
    secs["write"] = time.perf_counter() - t3
    secs["total"] = time.perf_counter() - t0
    report.seconds = secs
    step(1.0, "Forecast written")
    return report


def latest_run_id(conn) -> str | None:
    """Id of the most recent forecast run, or ``None`` when the store has none."""
    fr = schema.forecast_runs
    return conn.execute(sa.select(fr.c.run_id).order_by(fr.c.created_at.desc()).limit(1)).scalar()
