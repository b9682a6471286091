"""Settings, read from the environment (FANGPIN_*) or a .env file: one database URL, optional folders. The
only place fangpin reads its environment: every other module asks ``get_settings()``.

``get_settings()`` costs some tens of microseconds (every FANGPIN_* variable is read again): the API's check,
its busiest route, takes what it needs from the app, which read it when it started. The settings are
built once per distinct set of values of the FANGPIN_* variables (upper case) and kept, frozen. A changed
variable (a test's monkeypatch, say) gives new settings at once; a .env file is read when a set is first seen.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from fangpin.errors import FangpinError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FANGPIN_", env_file=".env", extra="ignore", frozen=True)

    database_url: str = "sqlite:///fangpin.db"
    rules_dir: Path | None = None
    sources_dir: Path | None = None
    runs_dir: Path = Path("runs")
    workers: int = 0  # 0: one per core
    # What a screening may hold at once while it links and decides (docs/scaling.md): the drop's work is split
    # into partitions by household and by event id to stay within it. screen_partitions forces a count (0: from
    # the budget).
    memory_budget_mb: int = Field(default=3072, ge=64)
    screen_partitions: int = Field(default=0, ge=0)
    # where a screening puts the partitions it does not hold (a private folder per run, removed after it):
    # a disk with room for about the drop's size again; None: the system's temporary folder (if that is a
    # tmpfs, the spills take memory after all)
    spill_dir: Path | None = None
    api_threads: int = 2  # requests one API process works on at once (the rest wait in the event loop)
    # PostgreSQL: single checks of one county arriving together are committed together (db.grouped)
    api_group_commit: bool = True
    # FastAPI's own OpenTelemetry (traces, metrics and logs of every request, to the providers configured in
    # the process). Off: fangpin configures no provider, and asking for one costs every request (docs/api.md)
    api_telemetry: bool = False
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

    # Limits on what comes in (docs/limits.md). Sizes in MiB.
    max_upload_file_mb: int = 200  # one uploaded file (the console's screening upload)
    max_upload_request_mb: int = 1024  # one upload request, all its files together
    max_body_kb: int = 1024  # any other request body (API JSON, console forms)
    max_drop_file_mb: int = 2048  # one file of a drop screened from a folder (CLI), CSV or xlsx
    xlsx_max_entries: int = 1000  # files inside one xlsx (a zip archive)
    xlsx_max_uncompressed_mb: int = 2048  # all of an xlsx's entries unpacked
    xlsx_max_ratio: int = 200  # unpacked size / packed size of one entry (a zip bomb is far above)
    xlsx_max_cells: int = 50_000_000  # rows x columns of a sheet, from its <dimension> or its last cell
    xlsx_max_columns: int = 1000  # columns of a sheet
    parse_memory_mb: int = 4096  # address space of the process that reads one xlsx
    parse_seconds: int = 900  # wall time for reading one xlsx
    # POST /v1/simulations answers within the request up to this many households (of all its runs together);
    # a larger simulation is queued as a job (202, docs/simulate.md). The console always queues.
    simulate_sync_max_households: int = Field(default=200_000, ge=0)


class SettingsError(FangpinError):
    """A FANGPIN_* variable (or its line in .env) that is not a valid value for its setting."""


@functools.lru_cache(maxsize=16)
def _settings(environment: tuple[tuple[str, str], ...], cwd: str) -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "FANGPIN_" + "_".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}={str(error.get('input'))[:60]!r} 不是有效的设置值({error['msg']})")
        raise SettingsError(";".join(problems)) from None


def get_settings() -> Settings:
    return _settings(tuple((name, os.environ.get(name, "")) for name in _NAMES), os.getcwd())


_NAMES = tuple(f"FANGPIN_{name.upper()}" for name in Settings.model_fields)
