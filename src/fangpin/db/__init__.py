"""Storage: SQLite by default, PostgreSQL through FANGPIN_DATABASE_URL, the same code and migrations."""
