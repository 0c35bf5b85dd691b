"""The daemon's state database (SQLite, WAL)."""
