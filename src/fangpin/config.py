"""Settings, read from the environment (FANGPIN_*) or a .env file: one database URL, optional folders. The
only place fangpin reads its environment: every other module asks ``get_settings()``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FANGPIN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///fangpin.db"
    rules_dir: Path | None = None
    sources_dir: Path | None = None
    runs_dir: Path = Path("runs")
    workers: int = 0  # 0: one per core
    api_threads: int = 2  # requests one API process works on at once (the rest wait in the event loop)
    console_session_hours: float = 8.0  # how long a sign-in to the web console lasts
    # the secret keying the audit chains (fangpin.audit.keys); default: beside a SQLite database as <file>.key,
    # else fangpin-chain.key in the working folder. Keep it outside the database and its backups.
    chain_key_file: Path | None = None
    # how long runs keep their result files and personal fields: `fangpin runs purge` without --before
    # removes those of runs finished more than this many days ago (None: only with an explicit --before)
    retention_days: int | None = None


def get_settings() -> Settings:
    return Settings()
