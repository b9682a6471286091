"""Doing something from the console: through the same services the API calls, in a transaction of its own
that is committed only if the service succeeds (a refused step stores nothing of what it began), and
recorded in the API's request log either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.orm import Session

from fangpin.claims import Conflict, InvalidRequest, NotAllowed, NotFound
from fangpin.errors import DocumentError, NoPackForYear, ReplayError, StorageError
from fangpin.services import request_log
from fangpin.web.auth import Forbidden, Viewer, now

T = TypeVar("T")

TITLES = {403: "无权操作", 404: "未找到", 409: "与当前状态冲突", 422: "填写有误"}


def status_of(exc: BaseException) -> int:
    if isinstance(exc, NotAllowed | Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict | StorageError | ReplayError):
        return 409
    if isinstance(exc, InvalidRequest | DocumentError | NoPackForYear | ValidationError):
        return 422
    return 500


REFUSALS = (NotAllowed, NotFound, Conflict, StorageError, ReplayError, InvalidRequest, DocumentError, NoPackForYear,
            ValidationError)


def perform(request: Request, viewer: Viewer, work: Callable[[Session], T], status: int = 303) -> T:
    """Run ``work`` in its own transaction; log the request (who, when, what, the answer)."""
    try:
        with request.app.state.sessions() as session:
            result = work(session)
            request_log.record_and_commit(session, _entry(request, viewer, status))
        return result
    except BaseException as exc:
        request_log.record_apart(request.app.state.sessions, _entry(request, viewer, status_of(exc)))
        raise


def _entry(request: Request, viewer: Viewer, status: int) -> request_log.Entry:
    return request_log.Entry(who=viewer.actor.name, role=viewer.actor.role, at=now(request),
                             method=request.method, path=request.url.path, status=status)
