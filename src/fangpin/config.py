"""Settings, read from the environment (FANGPIN_*) or a .env file: one database URL, optional folders."""

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


def get_settings() -> Settings:
    return Settings()
