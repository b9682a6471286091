"""The request log (``request_log``): who changed something, when, by which request, and the answer. The API
and the console record every request that changes something, here and nowhere else: a request that
succeeded in its own transaction (``record_and_commit``), one that failed in a transaction of its own
(``record_apart``: the failed one was rolled back)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from fangpin.db.claims_models import RequestLog

log = logging.getLogger("fangpin.services")


@dataclass(frozen=True)
class Entry:
    who: str | None
    role: str | None
    at: dt.datetime
    method: str
    path: str
    status: int

    def values(self) -> dict[str, Any]:
        return {"who": self.who, "role": self.role, "at": self.at.astimezone(dt.UTC), "method": self.method,
                "path": self.path[:500], "status": self.status}


_LOG = insert(RequestLog.__table__)  # type: ignore[arg-type]
_LOG_PG = ("INSERT INTO request_log (who, role, at, method, path, status) "
           "VALUES (%(who)s, %(role)s, %(at)s, %(method)s, %(path)s, %(status)s)")


def row(entry: Entry) -> tuple[Table, dict[str, Any]]:
    """The entry as a row of the request log, for a writer that inserts it itself (``db.grouped``)."""
    return cast(Table, RequestLog.__table__), entry.values()


def record(session: Session, entry: Entry) -> None:
    """Add the entry to the session's transaction."""
    session.connection().execute(_LOG, entry.values())


def record_and_commit(session: Session, entry: Entry | None) -> None:
    """Record the entry (if any) and commit the session's transaction. On PostgreSQL the log row and COMMIT
    go in one round trip: a chain's lock taken in the transaction is held until COMMIT returns."""
    if entry is not None:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            raw: Any = connection.connection.driver_connection
            with raw.pipeline(), raw.cursor() as cursor:
                cursor.execute(_LOG_PG, entry.values())
                raw.commit()
        else:
            connection.execute(_LOG, entry.values())
    session.commit()


def record_apart(sessions: Callable[[], Session], entry: Entry) -> None:
    """Record a failed request in a transaction of its own. Never raises: the answer matters more than its
    log line, so a failure to record is logged instead."""
    try:
        with sessions() as session, session.begin():
            record(session, entry)
    except Exception:
        log.exception("could not record the failed request %s %s", entry.method, entry.path)
