"""Is the service's database there: ``SELECT 1`` on a connection of the pool (``GET /v1/health``)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session


def touch_database(sessions: Callable[[], Session]) -> str:
    """The database's dialect once it answered; raises the driver's error (mapped to 503) when it does not."""
    with sessions() as session:
        session.execute(text("SELECT 1")).scalar_one()
        return session.get_bind().dialect.name
