"""Ids of the rows Greendoor writes."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A new random id for rows Greendoor writes (32 hex characters)."""
    return uuid.uuid4().hex
