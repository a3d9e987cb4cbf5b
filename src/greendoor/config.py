"""Greendoor settings: where the store is, and the typed model of every setting.

:class:`Settings` (pydantic) is the single source of every weight, band, window,
horizon and threshold, with its unit, bounds and help; the alert rules declare their
thresholds in :mod:`greendoor.rules` and the model takes them from there. The store
keeps versioned copies (table ``settings_versions``); version 1 is
:data:`DEFAULT_SETTINGS` (the model's defaults) as written by ``greendoor init``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from greendoor import rules

#: Environment variable holding the SQLAlchemy URL of the store.
DB_URL_ENV = "GREENDOOR_DB_URL"
#: Environment variable overriding the folder of the embedded store.
DATA_DIR_ENV = "GREENDOOR_DATA_DIR"

SEGMENTS: tuple[str, ...] = ("enterprise", "mid_market", "smb")
BANDS: tuple[str, ...] = ("green", "yellow", "red")

#: SPEC.md "Canonical data": segment derived from ARR when absent (USD).
SEGMENT_ARR_THRESHOLDS = {"enterprise": 50_000.0, "mid_market": 10_000.0}

# --------------------------------------------------------------------------- #
# The settings model: every weight, band, window, horizon and threshold, typed, with
# its unit and help. Stored versions are JSON of it (greendoor.settings); the library
# reads the JSON dict, the settings editor reads the help and bounds from here.
# --------------------------------------------------------------------------- #
COMPONENTS: tuple[str, ...] = ("engagement", "sentiment", "growth")
Weight = Annotated[float, Field(ge=0)]


def _f(default, description: str, unit: str, **bounds):
    return Field(default, description=description, json_schema_extra={"unit": unit}, **bounds)


class Measure(BaseModel):
    """A health measure: its weight inside its component, and ``points``: the raw
    value -> 0-100 scale, linear between ``[value, score]`` points, clamped at the ends."""

    model_config = ConfigDict(extra="forbid")
    weight: float = Field(1.0, ge=0)
    points: list[tuple[float, float]] = Field(min_length=2)

    @field_validator("points")
    @classmethod
    def _increasing(cls, pts):
        if any(b[0] <= a[0] for a, b in zip(pts, pts[1:], strict=False)):
            raise ValueError("the points' values must increase")
        if any(not 0 <= p[1] <= 100 for p in pts):
            raise ValueError("scores must be between 0 and 100")
        return pts


def _measures(spec: dict) -> dict[str, Measure]:
    return {k: Measure(points=v) for k, v in spec.items()}


class Bands(BaseModel):
    """Band lower bounds (inclusive), 0-100 points: green 80-100, yellow 50-79, red 0-49."""

    model_config = ConfigDict(extra="forbid")
    green: float = _f(80.0, "Green from this health score", "points", gt=0, le=100)
    yellow: float = _f(50.0, "Yellow from this health score (below it: red)", "points",
                       gt=0, le=100)

    @model_validator(mode="after")
    def _order(self):
        if not 0 < self.yellow < self.green <= 100:
            raise ValueError(f"need 0 < yellow < green <= 100, got yellow={self.yellow!r}, "
                             f"green={self.green!r}")
        return self


class Health(BaseModel):
    """SPEC.md "Health score": engagement 40 %, sentiment 30 %, growth 30 %."""

    model_config = ConfigDict(extra="forbid")
    weights: dict[str, Weight] = _f({"engagement": 0.4, "sentiment": 0.3, "growth": 0.3},
                                    "Component weights (any scale; normalised)", "weight")
    segment_weights: dict[str, dict[str, Weight]] = _f(
        {}, "Per-segment overrides of the weights, e.g. {'smb': {...}}", "weight")
    bands: Bands = Bands()
    trend_window_days: int = _f(30, "Trend: change over this many days", "days", ge=7, le=180)
    trend_threshold: float = _f(5.0, "Trend: improving or declining from this change",
                                "points", gt=0, le=50)
    measures: dict[str, dict[str, Measure]] = {
        "engagement": _measures({
            "active_days_30d": [[4, 0], [22, 100]],
            "seat_utilization": [[0.15, 0], [0.75, 100]],
            "feature_breadth_30d": [[1, 0], [8, 100]],
            "days_since_touch": [[14, 100], [90, 0]],
            # success plans of the last year (issue 20); no plan: left out (weight 0)
            "onboarding_days_behind": [[0, 100], [30, 0]]}),
        "sentiment": _measures({
            "latest_nps": [[0, 0], [6, 40], [9, 100]],
            "csat_90d": [[1, 0], [3, 40], [4.5, 100]],
            "escalated_tickets_90d": [[0, 100], [3, 0]],
            "high_priority_tickets_90d": [[0, 100], [5, 0]],
            "nps_detractor": [[0, 100], [1, 0]]}),
        "growth": _measures({
            "usage_trend": [[0.4, 0], [1.0, 75], [1.3, 100]],
            "seat_utilization_change": [[-0.3, 0], [0.0, 75], [0.15, 100]],
            "arr_change_90d": [[-0.2, 0], [0.0, 75], [0.1, 100]],
            "time_to_value_days": [[60, 100], [150, 0]]}),
    }

    @model_validator(mode="after")
    def _weights(self):
        for path, ws in [("weights", self.weights),
                         *[(f"segment_weights.{k}", v) for k, v in self.segment_weights.items()]]:
            unknown = set(ws) - set(COMPONENTS)
            if unknown:
                raise ValueError(f"{path}: unknown component {sorted(unknown)} (use "
                                 f"{', '.join(COMPONENTS)})")
            if len(ws) == len(COMPONENTS) and sum(ws.values()) <= 0:
                raise ValueError(f"{path}: at least one weight must be above 0")
        bad = set(self.segment_weights) - set(SEGMENTS)
        if bad:
            raise ValueError(f"segment_weights: unknown segment {sorted(bad)}")
        return self


def _rules_model() -> type[BaseModel]:
    """The rule thresholds, one field per :class:`greendoor.rules.Threshold`."""
    fields = {t.name: (int if t.integer else float,
                       _f(int(t.default) if t.integer else float(t.default), t.help, t.unit,
                          ge=t.ge, **({"le": t.le} if t.le is not None else {})))
              for t in rules.all_thresholds()}
    return create_model("Rules", __config__=ConfigDict(extra="forbid"), **fields)


Rules = _rules_model()


class Models(BaseModel):
    """How the models are measured and when they may drive numbers."""

    model_config = ConfigDict(extra="forbid")
    ece_calibrated: float = _f(0.05, "Probabilities are called calibrated below this expected "
                               "calibration error", "share", gt=0, le=0.5)
    interval: float = _f(0.90, "Coverage of the skill and importance intervals", "share",
                         gt=0.5, lt=1)
    category_min_history: int = _f(20, "A forecast category's historic renewal rate is "
                                   "blended in from this many closed renewals", "renewals",
                                   ge=1)
    queue_min_risk_index: float = _f(90.0, "The at-risk queue also lists accounts from this "
                                     "risk index (0-100)", "points", ge=0, le=100)
    reading_high_risk_index: float = _f(80.0, "Reading the risk figures: risk at renewal is "
                                        "high from this risk index", "points", ge=0, le=100)
    reading_high_loss: float = _f(0.30, "Reading the risk figures: or from this probability "
                                  "of loss at the renewal", "share", gt=0, lt=1)
    reading_unlikely_churn: float = _f(0.05, "Reading the risk figures: churn in the horizon "
                                       "is unlikely below this probability", "share", gt=0, lt=1)
    silhouette_separated: float = _f(0.5, "Segmentation: clusters read as well separated from "
                                     "this silhouette score", "score", gt=0, lt=1)


class Behavior(BaseModel):
    """Adoption gaps and usage anomalies (SPEC.md page 7)."""

    model_config = ConfigDict(extra="forbid")
    adoption_gap: float = _f(0.20, "A feature used by fewer active accounts than this share "
                             "30 days after its release is an adoption gap", "share", gt=0, le=1)
    anomaly_drop: float = _f(0.20, "Usage anomaly: events or session time over 14 days down "
                             "more than this share", "share", gt=0, le=1)


class Advocacy(BaseModel):
    """The advocacy ladder's limits (issue 25; greendoor.analytics.advocacy): how often an
    account may be asked, and how long a reference counts as influencing a deal."""

    model_config = ConfigDict(extra="forbid")
    max_asks_per_quarter: int = _f(2, "Advocacy: asks an account may get in 90 days (asking "
                                   "more wears advocates out); a further ask is refused",
                                   "asks", ge=1, le=20)
    reference_influence_days: int = _f(90, "Advocacy: a new-business deal won within this "
                                       "many days after a completed reference call counts as "
                                       "influenced by references", "days", ge=7, le=365)


class Mentions(BaseModel):
    """Community and social mentions (issue 25; greendoor.analytics.mentions): the names that
    count for the share of voice, VADER's cut-offs, and the negative-mention alert."""

    model_config = ConfigDict(extra="forbid")
    brand_keywords: list[str] = _f(["Lumora"], "Mentions: words naming the product (the "
                                   "demo's product is Lumora: set your own)", "words")
    competitors: dict[str, list[str]] = _f(
        {"Stratus": ["Stratus"], "Cirrus": ["Cirrus"]},
        "Mentions: each competitor and the words naming it (the demo's: set your own)",
        "words")
    negative_below: float = _f(-0.05, "Mentions: a compound sentiment at or below this is "
                               "negative (VADER's authors: -0.05)", "score", ge=-1, le=0)
    positive_above: float = _f(0.05, "Mentions: a compound sentiment at or above this is "
                               "positive (VADER's authors: +0.05)", "score", ge=0, le=1)
    alert_days: int = _f(30, "Mentions: a negative mention by an account's people in this "
                         "many days raises an alert", "days", ge=1, le=365)

    @field_validator("brand_keywords")
    @classmethod
    def _brand(cls, v):
        if not [w for w in v if w.strip()]:
            raise ValueError("name the product in at least one word")
        return v


class Experiments(BaseModel):
    """Defaults of a new experiment of playbooks (issue 25; greendoor.experiments): what it
    must be able to detect and how its interval is made."""

    model_config = ConfigDict(extra="forbid")
    outcome_days: int = _f(180, "Experiments: retention is measured this many days after "
                           "the start", "days", ge=30, le=730)
    min_effect: float = _f(0.05, "Experiments: the smallest retention difference worth "
                           "finding (0.05 = 5 points)", "share", gt=0, lt=1)
    alpha: float = _f(0.05, "Experiments: false-positive rate of the test (two-sided)",
                      "share", gt=0, lt=0.5)
    power: float = _f(0.8, "Experiments: chance of finding an effect of the smallest size",
                      "share", ge=0.5, lt=1)
    bootstrap_resamples: int = _f(2000, "Experiments: bootstrap resamples of each interval",
                                  "resamples", ge=200, le=20000)


class Onboarding(BaseModel):
    """Success plans, onboarding and value realization (issue 20; greendoor.onboarding)."""

    model_config = ConfigDict(extra="forbid")
    behind_days: int = _f(7, "Onboarding: a plan is behind when an open milestone is this "
                          "many days past due", "days", ge=1, le=90)
    stuck_days: int = _f(21, "Onboarding: a plan is stuck when an open milestone is this many "
                         "days past due", "days", ge=2, le=180)
    approval_business_days: int = _f(2, "Success plans: approval is due this many business "
                                     "days after submission", "business days", ge=1, le=20)
    plan_window_days: int = _f(90, "Success plans: an import creates a plan for each deal won "
                               "in this many days before the data's date (an action: at once)",
                               "days", ge=0, le=365)
    feature_window_days: int = _f(365, "Onboarding features and health measures count for "
                                  "plans started this many days before the as-of date",
                                  "days", ge=90, le=1095)
    value_risk_margin: float = _f(0.25, "Value realization: an alert when realized "
                                  "improvement is this share below the planned trajectory",
                                  "share", gt=0, lt=1)
    value_risk_min_days: int = _f(30, "Value realization: no value-risk alert in a plan's "
                                  "first days", "days", ge=0, le=365)
    roi_draws: int = _f(10_000, "Value realization: Monte Carlo draws of the ROI interval",
                        "draws", ge=1000, le=200_000)
    roi_level: float = _f(0.8, "Value realization: the ROI interval's coverage", "share",
                          ge=0.5, lt=1)

    @model_validator(mode="after")
    def _order(self):
        if self.stuck_days <= self.behind_days:
            raise ValueError(f"stuck_days ({self.stuck_days}) must exceed behind_days "
                             f"({self.behind_days})")
        return self


class Capacity(BaseModel):
    """The CSM workload model of the team view (issue 19; Planhat-style utilisation): hours
    a month each account takes by segment, plus onboarding in an account's first days and
    preparation of each renewal in its window, against the hours a CSM has."""

    model_config = ConfigDict(extra="forbid")
    hours_per_account_month: dict[str, float] = _f(
        {"enterprise": 2.5, "mid_market": 1.0, "smb": 0.5},
        "Team: hours a month an account takes, by segment", "hours")
    onboarding_hours: float = _f(9.0, "Team: hours of onboarding per new account (seeds: "
                                 "8-10 h in the first 90 days)", "hours", ge=0, le=200)
    onboarding_days: int = _f(90, "Team: an account is onboarding this many days after "
                              "signup", "days", ge=1, le=365)
    renewal_prep_hours: float = _f(12.5, "Team: hours preparing each renewal (seeds: "
                                   "10-15 h)", "hours", ge=0, le=200)
    renewal_window_days: int = _f(90, "Team: a renewal is prepared in the days before it",
                                  "days", ge=1, le=365)
    csm_hours_month: float = _f(120.0, "Team: hours a month a CSM has for their accounts",
                                "hours", gt=0, le=400)
    overloaded: float = _f(1.0, "Team: a CSM above this share of their hours is overloaded",
                           "share", gt=0, le=3)
    underloaded: float = _f(0.6, "Team: a CSM below this share of their hours can take more",
                            "share", ge=0, le=3)

    @field_validator("hours_per_account_month")
    @classmethod
    def _segments(cls, v):
        bad = set(v) - set(SEGMENTS)
        if bad:
            raise ValueError(f"unknown segment {sorted(bad)}")
        if any(h < 0 for h in v.values()):
            raise ValueError("hours cannot be negative")
        return v


class Notifications(BaseModel):
    """The daily digest that leaves the screen (issue 19, ``greendoor notify``): e-mail over
    SMTP and a Slack-compatible chat webhook, both off by default. The SMTP password is
    never stored here: it is read from ``$GREENDOOR_SMTP_PASSWORD``."""

    model_config = ConfigDict(extra="forbid")
    email_enabled: bool = False
    smtp_host: str = Field("", max_length=253, description="SMTP server host name")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port (587 with STARTTLS)")
    smtp_starttls: bool = Field(False, description="Upgrade the connection with STARTTLS")
    smtp_user: str = Field("", max_length=200, description="SMTP login (empty: none)")
    email_from: str = Field("greendoor@localhost", max_length=200,
                            pattern=r"^[^@\s]+@[^@\s]+$", description="Sender address")
    team_email: str = Field("", max_length=200, pattern=r"^$|^[^@\s]+@[^@\s]+$",
                            description="Also send the whole book's digest here")
    webhook_enabled: bool = False
    webhook_url: str = Field("", max_length=500, pattern=r"^$|^https?://\S+$",
                             description="Chat webhook (Slack-compatible JSON {\"text\": ...})")
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="Per delivery")

    @model_validator(mode="after")
    def _complete(self):
        if self.email_enabled and not self.smtp_host:
            raise ValueError("e-mail is enabled but smtp_host is empty")
        if self.webhook_enabled and not self.webhook_url:
            raise ValueError("the webhook is enabled but webhook_url is empty")
        return self


class BenchmarkRow(BaseModel):
    """One published benchmark (table ``benchmarks``): ``metric`` grr or nrr, the annual
    contract value bucket ``[acv_min, acv_max)`` (``acv_max`` None: no upper bound) in
    ``currency``, ``value`` as a fraction (0.93 = 93 %), the ``statistic`` it is, the
    smallest company ARR the source counted, and the ``source`` and ``year``."""

    model_config = ConfigDict(extra="forbid")
    benchmark_id: str = Field(min_length=1, max_length=100)
    metric: Literal["grr", "nrr"]
    acv_min: float = Field(ge=0)
    acv_max: float | None = Field(default=None, gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    value: float = Field(gt=0, le=3)
    statistic: Literal["median", "mean", "top_quartile", "bottom_quartile"] = "median"
    min_company_arr: float | None = Field(default=None, ge=0)
    source: str = Field(min_length=3, max_length=300)
    year: int = Field(ge=1990, le=2100)
    url: str | None = Field(default=None, max_length=500, pattern=r"^https://")

    @model_validator(mode="after")
    def _bucket(self):
        if self.acv_max is not None and self.acv_max <= self.acv_min:
            raise ValueError(f"acv_max {self.acv_max:g} must be above acv_min {self.acv_min:g}")
        if self.metric == "grr" and self.value > 1:
            raise ValueError(f"a GRR cannot exceed 100 %, got {self.value:g}")
        return self


class Settings(BaseModel):
    """Every setting of Greendoor (SPEC.md "Health score", "Rules, alerts and playbooks",
    "Pages"). ``Settings().model_dump()`` are the defaults (version 1 of a new store)."""

    model_config = ConfigDict(extra="forbid")
    health: Health = Health()
    rules: Rules = Rules()  # type: ignore[valid-type]
    renewal_windows_days: list[int] = _f([120, 90, 60, 30], "Renewal playbook windows: "
                                         "days before the renewal", "days")
    churn_horizon_days: int = _f(90, "Churn within this many days is what the churn model "
                                 "predicts and ARR at risk counts", "days", ge=7, le=365)
    this_week_health_drop_points: float = _f(10.0, "This week: health drops of at least this "
                                             "many points", "points", gt=0, le=100)
    this_week_renewal_windows_days: list[int] = _f([90, 60, 30], "This week: renewals "
                                                   "entering these windows", "days")
    alert_quiet_days: int = _f(30, "Alerts: days a resolved or false-positive alert is not "
                               "raised again for the same account and rule", "days",
                               ge=1, le=365)
    this_week_expansion_probability: float = _f(0.5, "This week: a new expansion signal when "
                                                "P(expansion) crosses this", "share", gt=0, lt=1)
    currency: str = _f("USD", "ISO 4217 code of the store's money (ARR, amounts); published "
                       "benchmarks in another currency are not compared", "code",
                       pattern=r"^[A-Z]{3}$")
    churn_reason_lead_days: int = _f(30, "Churn reasons: the scores shown for each reason are "
                                     "the latest ones at least this many days before the "
                                     "churn", "days", ge=0, le=365)
    report_top_accounts: int = _f(10, "Reports: accounts listed per section of the weekly "
                                  "digest (top risks, renewals, changes)", "accounts",
                                  ge=1, le=100)
    rules_by_segment: dict[str, dict[str, float]] = _f(
        {}, "Rule thresholds a segment sets for itself, over the defaults in rules: "
        "{segment: {threshold: value}}", "thresholds")
    models: Models = Models()
    behavior: Behavior = Behavior()
    notifications: Notifications = Notifications()
    capacity: Capacity = Capacity()
    experiments: Experiments = Experiments()
    advocacy: Advocacy = Advocacy()
    mentions: Mentions = Mentions()
    onboarding: Onboarding = Onboarding()

    @field_validator("rules_by_segment")
    @classmethod
    def _by_segment(cls, v):
        known = {t.name: t for t in rules.segment_thresholds()}
        for segment, values in v.items():
            if not str(segment).strip():
                raise ValueError("a segment name is empty")
            for name, x in values.items():
                t = known.get(name)
                if t is None:
                    raise ValueError(f"{segment}: unknown threshold {name!r}; one of "
                                     f"{', '.join(known)}")
                if x < t.ge or (t.le is not None and x > t.le):
                    allowed = (f"{t.ge:g} to {t.le:g}" if t.le is not None
                               else f"at least {t.ge:g}")
                    raise ValueError(f"{segment}.{name}: {x:g} is outside {allowed} ({t.unit})")
                if t.integer and x != int(x):
                    raise ValueError(f"{segment}.{name}: {x:g} is not a whole number of "
                                     f"{t.unit}")
        return v

    @field_validator("renewal_windows_days", "this_week_renewal_windows_days")
    @classmethod
    def _windows(cls, w):
        if not w or len(set(w)) != len(w) or any(not 1 <= x <= 365 for x in w):
            raise ValueError(f"need distinct whole days between 1 and 365, got {w!r}")
        return sorted(w, reverse=True)


DEFAULT_SETTINGS: dict[str, Any] = Settings().model_dump(mode="json")


def default_settings() -> dict[str, Any]:
    """Return a deep copy of :data:`DEFAULT_SETTINGS` (safe to mutate)."""
    return copy.deepcopy(DEFAULT_SETTINGS)


#: Settings that are maps a user edits as a whole (a competitor or a segment removed stays
#: removed): taken as stored, never merged key by key with their defaults.
WHOLE_MAPS = ("mentions.competitors", "rules_by_segment", "health.segment_weights")


def merge_settings(stored: dict[str, Any], defaults: dict[str, Any] | None = None,
                   _path: str = "") -> dict[str, Any]:
    """Stored settings over the defaults, recursively: a key missing from an older
    stored version takes its default; a stored value always wins (a map of
    :data:`WHOLE_MAPS` as a whole)."""
    out = copy.deepcopy(DEFAULT_SETTINGS if defaults is None else defaults)
    for key, value in stored.items():
        path = f"{_path}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict) and path not in WHOLE_MAPS:
            out[key] = merge_settings(value, out[key], path + ".")
        else:
            out[key] = copy.deepcopy(value)
    return out


def data_dir() -> Path:
    """Folder of the embedded store: ``$GREENDOOR_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.cwd() / "data")


def db_url() -> str:
    """SQLAlchemy URL of the store.

    ``$GREENDOOR_DB_URL`` when set (e.g. ``postgresql+psycopg://user@host/db``),
    else an embedded DuckDB file ``data/greendoor.duckdb``.
    """
    url = os.environ.get(DB_URL_ENV)
    if url:
        return url
    return f"duckdb:///{(data_dir() / 'greendoor.duckdb').resolve()}"


#: Environment variable: how many threads scikit-learn's OpenMP pools may use.
THREADS_ENV = "GREENDOOR_THREADS"


def threads() -> int:
    """Threads for model training and scoring, and for what the app's pages compute
    (k-means, BLAS; ``app.data.capped_threads``): ``$GREENDOOR_THREADS``, else 1. One
    thread costs nothing measurable on a quiet 2-core machine (0.92-0.99× the time of
    two), and keeps a score from collapsing when the app or anything else uses the CPU
    (72 s against 15.7 s with two threads under a load of 3.5-5, issue 23). Raises
    ``ValueError`` for a value that is not a positive integer."""
    raw = os.environ.get(THREADS_ENV, "1")
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"{THREADS_ENV}={raw!r}: give a whole number of threads, 1 or more")
    return int(raw)


def segment_from_arr(arr: float) -> str:
    """Segment of an account from its ARR in USD (SPEC.md "Canonical data").

    > 50,000 enterprise; 10,000-50,000 mid_market; < 10,000 smb.
    """
    if arr > SEGMENT_ARR_THRESHOLDS["enterprise"]:
        return "enterprise"
    if arr >= SEGMENT_ARR_THRESHOLDS["mid_market"]:
        return "mid_market"
    return "smb"


def setting_info(path: str) -> dict[str, Any]:
    """Help, unit and bounds of a setting by its dotted path (``"rules.warning_login_drop"``)
    from :class:`Settings`: ``{"help", "unit", "ge", "le"}``. Raises ``KeyError`` for an
    unknown path."""
    model: Any = Settings
    field = None
    for part in path.split("."):
        field = model.model_fields[part]
        model = field.annotation
    extra = field.json_schema_extra or {}
    bounds = {k: getattr(m, k, None) for m in field.metadata for k in ("ge", "gt", "le", "lt")
              if getattr(m, k, None) is not None}
    return {"help": field.description or "", "unit": extra.get("unit", ""),
            "ge": bounds.get("ge", bounds.get("gt")), "le": bounds.get("le", bounds.get("lt"))}


#: The scalar settings of the settings editor's second table (the rules have their own).
SCALAR_SETTINGS = ("churn_horizon_days", "alert_quiet_days", "this_week_health_drop_points",
                   "this_week_expansion_probability", "report_top_accounts",
                   "churn_reason_lead_days",
                   *[f"models.{k}" for k in Models.model_fields],
                   *[f"behavior.{k}" for k in Behavior.model_fields],
                   *[f"capacity.{k}" for k in Capacity.model_fields
                     if k != "hours_per_account_month"],
                   *[f"experiments.{k}" for k in Experiments.model_fields],
                   *[f"advocacy.{k}" for k in Advocacy.model_fields],
                   *[f"mentions.{k}" for k in ("negative_below", "positive_above",
                                               "alert_days")])


def get_path(settings: dict, path: str):
    """The value at a dotted ``path`` (``"bands.green"``) of a nested settings dict.
    Raises ``KeyError`` for an unknown path."""
    node = settings
    for part in path.split("."):
        node = node[part]
    return node


def set_path(settings: dict, path: str, value) -> None:
    """Set the value at a dotted ``path`` of a nested settings dict in place.
    Raises ``KeyError`` when a parent is missing."""
    *parents, leaf = path.split(".")
    node = settings
    for part in parents:
        node = node[part]
    node[leaf] = value
