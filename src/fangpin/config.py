"""Settings, read from the environment (FANGPIN_*) or a .env file: one database URL, optional folders. The
only place fangpin reads its environment: every other module asks ``get_settings()``.

``get_settings()`` is cheap enough for every request (the pack cache asks it on each check): the settings are
built once per distinct set of values of the FANGPIN_* variables (upper case) and kept, frozen. A changed
variable (a test's monkeypatch, say) gives new settings at once; a .env file is read when a set is first seen.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FANGPIN_", env_file=".env", extra="ignore", frozen=True)

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
    # Credentials (docs/api.md, "Users and tokens")
    token_days: int = Field(default=90, ge=1)  # how long a token from `users add` or `users rotate` is valid
    token_cache_seconds: float = Field(default=2.0, ge=0, le=5)  # a process takes a token it found as valid
    # without asking the database again for this long: a disabled or rotated token stops within this time
    login_max_failures: int = Field(default=5, ge=1)  # failed sign-ins of one name, or from one address, ...
    login_window_minutes: float = Field(default=15.0, gt=0)  # ... within this window lock further attempts


@functools.lru_cache(maxsize=16)
def _settings(environment: tuple[tuple[str, str], ...], cwd: str) -> Settings:
    return Settings()


def get_settings() -> Settings:
    return _settings(tuple((name, os.environ.get(name, "")) for name in _NAMES), os.getcwd())


_NAMES = tuple(f"FANGPIN_{name.upper()}" for name in Settings.model_fields)
