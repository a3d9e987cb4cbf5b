"""Warehouse sources (issue 24): a connection plus a mapping of the canonical tables onto
the warehouse's tables or views, validated where the data lives
(:func:`greendoor.warehouse.check.check_source`, ``greendoor source check``)."""
