"""A warehouse source: a connection plus a mapping of the canonical tables onto the
warehouse's tables or views (issue 24), read from a versioned YAML file::

    version: 1
    url: postgresql+psycopg://reader:${WAREHOUSE_PASSWORD}@db.internal/analytics
    tables:
      accounts:
        from: crm.accounts            # [schema.]table or view
        columns:                      # canonical column: source column
          account_id: id
          name: account_name
      usage:
        from: product.daily_usage     # canonical columns not listed are read under
                                      # their own name when the source has them

``url`` is a SQLAlchemy URL; ``${VAR}`` is replaced from the environment so secrets stay
out of the file. An Apache Spark source gives ``spark:`` instead (:class:`SparkSource`:
master, config, Parquet or Delta paths registered as views). Table and column names are those of the data contract
(:data:`greendoor.ingest.contract.CONTRACT`, SPEC.md "Canonical data").
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import pydantic
import yaml

from greendoor.ingest.contract import CONTRACT, DERIVED_WHEN_ABSENT, INTERNAL_COLUMNS

#: The mapping file format this version reads.
MAPPING_VERSION = 1
#: Tables a source must map: scoring needs accounts, their ARR and their usage.
REQUIRED_TABLES = ("accounts", "subscriptions", "usage")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the entry."""


class TableSource(pydantic.BaseModel):
    """Where one canonical table comes from: ``from_`` (``[schema.]name`` of a table or
    view) and ``columns`` (canonical column -> source column)."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    from_: str = pydantic.Field(alias="from")
    columns: dict[str, str] = pydantic.Field(default_factory=dict)

    @pydantic.field_validator("from_")
    @classmethod
    def _qualified_name(cls, v: str) -> str:
        parts = v.split(".")
        if not 1 <= len(parts) <= 2 or not all(_NAME.match(p) for p in parts):
            raise ValueError(f"{v!r} is not a [schema.]table name")
        return v

    @property
    def schema_name(self) -> str | None:
        """The schema part of ``from`` (``None`` for the connection's default)."""
        return self.from_.split(".")[0] if "." in self.from_ else None

    @property
    def table_name(self) -> str:
        """The table or view part of ``from``."""
        return self.from_.split(".")[-1]


class SparkSource(pydantic.BaseModel):
    """An Apache Spark source: the ``master`` (``local[N]`` in tests, ``spark://host:7077``,
    ``yarn``, ``k8s://...`` on a cluster), Spark ``config`` entries, and ``views``: name ->
    path of Parquet (or Delta, ``format: delta``) data registered as a temporary view, so
    ``from:`` can name them (catalog tables are named as ``[database.]table``)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    master: str = "local[*]"
    app_name: str = "greendoor"
    config: dict[str, str | int | float | bool] = pydantic.Field(default_factory=dict)
    views: dict[str, str] = pydantic.Field(default_factory=dict)
    format: Literal["parquet", "delta"] = "parquet"


class SourceMapping(pydantic.BaseModel):
    """A mapping file: ``version``, the source (a SQLAlchemy ``url`` or a ``spark``
    section, one of the two) and one :class:`TableSource` per canonical table it provides."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    version: Literal[1]
    url: str | None = None
    spark: SparkSource | None = None
    #: ``rows``: ``greendoor sync`` copies the usage rows into the store (past the
    #: watermark). ``features``: the usage stays in the warehouse; the sync computes the
    #: per-account usage aggregates there for each date scoring needs and only those
    #: rows come back (:mod:`greendoor.store.usage_features`).
    usage_mode: Literal["rows", "features"] = "rows"
    tables: dict[str, TableSource]

    @pydantic.model_validator(mode="after")
    def _canonical_names(self) -> SourceMapping:
        if (self.url is None) == (self.spark is None):
            raise ValueError("give the source as either url (SQLAlchemy) or spark, not "
                             + ("both" if self.url else "neither"))
        unknown = sorted(set(self.tables) - set(CONTRACT))
        if unknown:
            raise ValueError(f"unknown canonical table(s) {', '.join(unknown)}; the contract's "
                             f"tables are {', '.join(CONTRACT)}")
        missing = [t for t in REQUIRED_TABLES if t not in self.tables]
        if missing:
            raise ValueError(f"the mapping must provide {', '.join(missing)} "
                             f"(scoring needs {', '.join(REQUIRED_TABLES)})")
        for name, ts in self.tables.items():
            names = set(CONTRACT[name].names)
            bad = sorted(set(ts.columns) - names)
            if bad:
                raise ValueError(f"tables.{name}.columns: {', '.join(bad)} not in the contract's "
                                 f"{name} columns ({', '.join(CONTRACT[name].names)})")
        return self

    def canonical_columns(self, table: str, source_columns: list[str]) -> dict[str, str]:
        """Canonical column -> source column for ``table``: the mapped ones, and every other
        contract column the source has under its own name (case-insensitive)."""
        ts = self.tables[table]
        lower = {c.lower(): c for c in source_columns}
        out = dict(ts.columns)
        for f in CONTRACT[table].fields:
            if f.name not in out and f.name.lower() in lower:
                out[f.name] = lower[f.name.lower()]
        return out


def required_columns(table: str) -> list[str]:
    """Contract columns of ``table`` a source must provide (required and not derived)."""
    return [f.name for f in CONTRACT[table].fields
            if f.required and (table, f.name) not in DERIVED_WHEN_ABSENT
            and (table, f.name) not in INTERNAL_COLUMNS]


def load_mapping(path: str | Path, url: str | None = None) -> SourceMapping:
    """Read and validate the mapping file at ``path``; ``url`` (if given) replaces the
    file's. ``${VAR}`` in the URL is taken from the environment. Raises
    :class:`MappingError` naming the file and the first wrong entry, and
    ``FileNotFoundError``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: expected a mapping with version, url and tables")
    if url is not None:
        raw["url"] = url
    if isinstance(raw.get("url"), str):
        unset = [v for v in re.findall(r"\$\{(\w+)\}", raw["url"]) if v not in os.environ]
        if unset:
            raise MappingError(f"{path}: url uses ${{{unset[0]}}}, which is not set in the "
                               "environment")
        raw["url"] = os.path.expandvars(raw["url"])
    try:
        return SourceMapping.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise MappingError(f"{path}: {where}: {first['msg']}"
                           + (f" ({exc.error_count()} problems)" if exc.error_count() > 1
                              else "")) from exc
