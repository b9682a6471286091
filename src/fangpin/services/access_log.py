"""The access log (``access_log``): who read, searched or downloaded which household, decision, claim, run or
file, when, by which route, with what answer (docs/privacy.md). Beside the request log, which keeps the
requests that change something; this one keeps the reads, and is queried by household and by user.

How a read reaches it, in two halves:
- the services that hand out personal data *note* what they hand out (``note``): a decision and its
  household, each claim of a listing, each household a search found (with the search masked by
  ``privacy.query_trace``: never an ID number in clear);
- the entrypoints *record*, in one place each (the API's ``deps.commit``, the console's ``auth.db_session``),
  everything noted during the request, in the request's own transaction, with who asked, when and by which
  route (``record``). A read route that noted nothing (a run's page, a file download, the fund) is recorded
  from its route and path parameters (``from_route``), so every read leaves a row. A read refused (403,
  404) is recorded apart, since its transaction was rolled back (``record_apart``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from fangpin.claims import Actor
from fangpin.db.claims_models import AccessLog
from fangpin.privacy import looks_like_id, mask_id

log = logging.getLogger("fangpin.services")
KINDS = ("household", "decision", "claim", "run", "file", "search", "fund", "audit", "screening", "page")
_KEY = "fangpin.reads"


@dataclass(frozen=True)
class Read:
    kind: str
    object_id: str | None = None
    household_id: str | None = None


def note(session: Session, kind: str, object_id: Any = None, household_id: str | None = None) -> None:
    """Note that this session's request hands out ``kind`` ``object_id`` (of ``household_id``)."""
    session.info.setdefault(_KEY, []).append(Read(kind, None if object_id is None else str(object_id), household_id))


def note_many(session: Session, kind: str, items: Iterable[tuple[Any, str | None]]) -> None:
    for object_id, household_id in items:
        note(session, kind, object_id, household_id)


def noted(session: Session) -> list[Read]:
    return list(session.info.get(_KEY, []))


def _safe(value: str | None) -> str | None:
    """A path parameter as the log keeps it: an ID number typed into a URL is masked."""
    if value is None:
        return None
    return mask_id(value) if looks_like_id(value) else value[:200]


def route_of(method: str, path: str, params: Mapping[str, Any]) -> str:
    """``GET /v1/decisions/{decision_id}``: the request's path with each path parameter put back as its name
    (the log keeps the route, not the values: those are the object)."""
    names = {str(value): name for name, value in params.items()}
    segments = [f"{{{names[segment]}}}" if segment in names else segment for segment in path.split("/")]
    return f"{method} {'/'.join(segments)}"[:200]


def kind_of(route: str) -> str:
    """The kind of thing a read route hands out, from its path template."""
    parts = [part for part in route.split("/") if part and not part.startswith("{")]
    if "files" in parts or route.endswith((".csv", ".xlsx", ".json")):
        return "file"
    for segment, kind in (("decisions", "decision"), ("households", "household"), ("claims", "claim"),
                          ("audit", "audit"), ("runs", "run"), ("fund", "fund"), ("screening", "screening"),
                          ("jobs", "screening")):
        if segment in parts:
            if kind == "decision" and "runs" in parts:
                return "run"  # a run's table of decisions
            return kind
    return "page"


def from_route(route: str, params: Mapping[str, Any]) -> Read:
    """The read a route stands for when its service noted nothing: the kind from the template, the object
    from the path parameters (``run_id/name`` for a file)."""
    values = [str(value) for value in params.values()]
    household = params.get("household_id")
    return Read(kind_of(route), _safe("/".join(values)) if values else None,
                _safe(str(household)) if household is not None else None)


def _rows(actor: Actor, at: dt.datetime, route: str, status: int, reads: list[Read]) -> list[dict[str, Any]]:
    at = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    return [{"who": actor.name, "role": actor.role, "county": actor.county, "at": at, "kind": read.kind,
             "object_id": _safe(read.object_id), "household_id": read.household_id and read.household_id[:64],
             "route": route[:200], "status": status} for read in reads]


_INSERT = insert(AccessLog.__table__)  # type: ignore[arg-type]


def record(session: Session, actor: Actor | None, *, at: dt.datetime, route: str, status: int,
           fallback: Read | None) -> None:
    """Add what the request read (noted, else ``fallback``) to the session's transaction; nothing without a
    signed-in user (the login page, health)."""
    reads = session.info.pop(_KEY, [])
    if actor is None:
        return
    if not reads and fallback is not None:
        reads = [fallback]
    if reads:
        session.connection().execute(_INSERT, _rows(actor, at, route, status, reads))


def record_apart(sessions: Callable[[], Session], actor: Actor | None, *, at: dt.datetime, route: str,
                 status: int, read: Read) -> None:
    """Record a refused read in a transaction of its own. Never raises: the answer matters more."""
    if actor is None:
        return
    try:
        with sessions() as session, session.begin():
            session.connection().execute(_INSERT, _rows(actor, at, route, status, [read]))
    except Exception:
        log.exception("could not record the refused read of %s", route)


# --- reading the log (auditors, the office) --------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    who: str
    role: str
    county: str
    kind: str
    object_id: str | None
    household_id: str | None
    route: str
    status: int


def reads(session: Session, *, county: str | None = None, household_id: str | None = None,
          user: str | None = None, limit: int = 1000) -> list[Entry]:
    """The log's rows, newest first: of a household, of a user, or both (in one county, or all)."""
    query = select(AccessLog.at, AccessLog.who, AccessLog.role, AccessLog.county, AccessLog.kind,
                   AccessLog.object_id, AccessLog.household_id, AccessLog.route, AccessLog.status)
    if county is not None:
        query = query.where(AccessLog.county == county)
    if household_id is not None:
        query = query.where(AccessLog.household_id == household_id)
    if user is not None:
        query = query.where(AccessLog.who == user)
    rows = session.execute(query.order_by(AccessLog.id.desc()).limit(limit))
    return [Entry(*row) for row in rows]
