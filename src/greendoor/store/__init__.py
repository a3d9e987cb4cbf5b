"""The SQL store: schema, engine and connections (DuckDB or PostgreSQL), migrations,
bulk writes, rollups, backup and restore."""
