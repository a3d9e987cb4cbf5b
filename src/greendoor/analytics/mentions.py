"""Community and social mentions (issue 25; seed journey 9.9): their sentiment, influence
and share of voice, read from the optional ``mentions`` table.

**Sentiment** is VADER's compound score (Hutto & Gilbert 2014; the maintained
``vaderSentiment`` package, a lexicon and rules: deterministic, no model to train), -1 to
+1; a mention is negative at or below ``mentions.negative_below`` and positive at or above
``mentions.positive_above`` (VADER's authors use -0.05 and +0.05). Its agreement with
hand labels is measured on a labelled sample in the tests.

**Influence** of a mention = log10(1 + reach) + log10(1 + engagement): an order of magnitude
more audience, or more reactions, adds one point (1,000 followers and 99 reactions: 3.0 +
2.0 = 5.0); an author's influence is the sum over their mentions.

**Share of voice** = mentions naming the product / mentions naming the product or a
competitor, from the keyword lists in the settings (``mentions.brand_keywords``,
``mentions.competitors``), whole words, case-insensitive; a mention naming several counts
for each.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greendoor.metrics import sql as msql
from greendoor.periods import Filters
from greendoor.store import schema


@functools.lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(texts) -> np.ndarray:
    """VADER's compound score (-1 to +1) of each text; NaN for an empty one."""
    a = _analyzer()
    return np.array([a.polarity_scores(str(t))["compound"] if t is not None and str(t).strip()
                     else np.nan for t in texts], dtype=float)


def label(scores, negative_below: float, positive_above: float) -> np.ndarray:
    """``negative`` / ``neutral`` / ``positive`` from compound ``scores``."""
    s = np.asarray(scores, dtype=float)
    return np.where(s <= negative_below, "negative",
                    np.where(s >= positive_above, "positive", "neutral"))


def influence(reach, engagement) -> np.ndarray:
    """log10(1 + reach) + log10(1 + engagement) per mention (a missing figure counts 0)."""
    r = np.nan_to_num(np.asarray(reach, dtype=float), nan=0.0)
    e = np.nan_to_num(np.asarray(engagement, dtype=float), nan=0.0)
    return np.log10(1 + np.maximum(r, 0)) + np.log10(1 + np.maximum(e, 0))


def _pattern(words: list[str]) -> re.Pattern | None:
    words = [w.strip() for w in words if str(w).strip()]
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def share_of_voice(texts: pd.Series, brand: list[str],
                   competitors: dict[str, list[str]]) -> pd.DataFrame:
    """``name, mentions, share`` for the product (``name`` "us") and each competitor:
    mentions whose text names it, over all the namings (see the module docstring)."""
    rows = []
    for name, words in [("us", brand), *competitors.items()]:
        pat = _pattern(words)
        n = int(texts.fillna("").str.contains(pat).sum()) if pat is not None else 0
        rows.append({"name": name, "mentions": n})
    df = pd.DataFrame(rows, columns=["name", "mentions"])
    total = df["mentions"].sum()
    df["share"] = df["mentions"] / total if total else math.nan
    return df


def mentions(conn: Connection, f: Filters, settings: dict, days: int = 365) -> pd.DataFrame:
    """Mentions dated in the ``days`` before ``f.as_of`` (only what was known then):
    ``mention_id, account_id, name`` (the account's, when known), ``source, author, text,
    occurred_at, reach, engagement, url, sentiment, tone`` (negative / neutral /
    positive), ``influence``; newest first. With a segment or owner filter, only the
    mentions of the accounts within it."""
    m, a = schema.mentions, schema.accounts
    q = (sa.select(m, a.c.name).select_from(m.outerjoin(a, a.c.account_id == m.c.account_id))
         .where(m.c.occurred_at < f.as_of, m.c.occurred_at >= f.as_of - dt.timedelta(days=days)))
    flt = msql.account_filter(m.c.account_id, f.segment, f.owner, f.as_of)
    if flt is not None:
        q = q.where(flt)
    df = pd.read_sql(q.order_by(m.c.occurred_at.desc()), conn)
    cfg = settings["mentions"]
    df["sentiment"] = sentiment(df["text"])
    df["tone"] = label(df["sentiment"], cfg["negative_below"], cfg["positive_above"])
    df["influence"] = influence(df["reach"], df["engagement"])
    return df


def monthly(df: pd.DataFrame) -> pd.DataFrame:
    """``month, negative, neutral, positive, mentions, net`` (positive - negative share)
    per calendar month of a :func:`mentions` frame, oldest first."""
    if df.empty:
        return pd.DataFrame(columns=["month", "negative", "neutral", "positive", "mentions",
                                     "net"])
    month = pd.to_datetime(df["occurred_at"]).dt.to_period("M").dt.to_timestamp()
    t = pd.crosstab(month, df["tone"]).reindex(columns=["negative", "neutral", "positive"],
                                               fill_value=0)
    t["mentions"] = t.sum(axis=1)
    t["net"] = (t["positive"] - t["negative"]) / t["mentions"]
    return t.rename_axis("month").reset_index()


def influencers(df: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """Authors by summed influence: ``author, account_id, name, mentions, influence,
    sentiment`` (mean compound), ``negative`` (mentions); the ``top`` first."""
    if df.empty:
        return pd.DataFrame(columns=["author", "account_id", "name", "mentions", "influence",
                                     "sentiment", "negative"])
    d = df.assign(author=df["author"].fillna("(anonymous)"),
                  neg=(df["tone"] == "negative").astype(int))
    g = d.groupby("author").agg(account_id=("account_id", "first"), name=("name", "first"),
                                mentions=("mention_id", "size"),
                                influence=("influence", "sum"),
                                sentiment=("sentiment", "mean"), negative=("neg", "sum"))
    return g.sort_values("influence", ascending=False).head(top).reset_index()
