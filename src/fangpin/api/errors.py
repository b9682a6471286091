"""Every error the API answers, in one place, as application/problem+json (RFC 9457): ``type``, ``title``,
``status``, ``detail``, and ``field`` naming what is at fault (422). A request that changes something and
fails is still recorded in the request log (in its own transaction: the failed one was rolled back)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from fangpin.claims import Conflict, InvalidRequest, NotAllowed, NotFound, TooManyAttempts, Unauthenticated
from fangpin.db.session import unavailable
from fangpin.errors import DocumentError, EngineError, FangpinError, NoPackForYear, PackError, ReplayError, StorageError
from fangpin.labels import field_label, validation_message
from fangpin.services import access_log, request_log

PROBLEM = "application/problem+json"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger("fangpin.api")


class MalformedBody(FangpinError):
    """The request body is not a JSON document (HTTP 400)."""


class Invalid(InvalidRequest):
    """A request value that fails validation, located by its path (HTTP 422)."""


def problem(status: int, title: str, detail: str, *, field: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": f"https://fangpin.example/problems/{title.lower().replace(' ', '-')}",
                            "title": title, "status": status, "detail": detail}
    if field is not None or status == 422:
        body["field"] = field
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=PROBLEM, headers=headers)


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic location as a field path: ``illness[0].burden``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "decimal", "is-instance", "json-or-python", "lax-or-strict")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def from_validation(errors: Sequence[Any], *, skip: int = 0, tags: frozenset[str] = frozenset()) -> Invalid:
    """The first error of a pydantic validation as an ``Invalid`` naming its field: ``field`` the path
    (``verified.per_capita_income``), the message in Chinese with the field's label (fangpin.labels).
    ``skip`` drops leading location parts (FastAPI's ``query``/``path``); ``tags`` are a discriminated union's
    tags, not fields."""
    first = errors[0]
    loc = list(first.get("loc", ()))[skip:]
    if loc and loc[0] in tags:
        loc = loc[1:]
    field = field_path(loc)
    message = validation_message(first)
    if first.get("type") in ("union_tag_not_found", "union_tag_invalid"):
        field = field or "to"
    if ": " in message and (not field or message.startswith("[")):  # a check that names its own field
        named, message = message.split(": ", 1)
        field = f"{field}{named}" if named.startswith("[") else named
    more = f"(另有 {len(errors) - 1} 处有误)" if len(errors) > 1 else ""
    return Invalid(f"{field_label(field or None)}:{message}{more}", field=field or None)


def _status(exc: Exception) -> tuple[int, str]:
    if unavailable(exc):
        return 503, "Database unavailable"
    if isinstance(exc, MalformedBody):
        return 400, "Malformed body"
    if isinstance(exc, Unauthenticated):
        return 401, "Not authenticated"
    if isinstance(exc, TooManyAttempts):
        return 429, "Too many attempts"
    if isinstance(exc, NotAllowed):
        return 403, "Not allowed"
    if isinstance(exc, NotFound):
        return 404, "Not found"
    if isinstance(exc, Conflict | StorageError | ReplayError | IntegrityError):
        return 409, "Conflict"
    if isinstance(exc, DocumentError | InvalidRequest | NoPackForYear):
        return 422, "Invalid request"
    if isinstance(exc, OperationalError):
        return 503, "Database busy"
    if isinstance(exc, PackError):
        return 500, "Rule pack error"
    if isinstance(exc, EngineError):
        return 500, "Rule engine error"
    return 500, "Internal error"


UNAVAILABLE = "数据库暂时无法连接(已停止或正在重启):没有写入任何记录。请稍后重试;如持续出现,请联系系统管理员。"
BUSY = "数据库正忙:没有写入任何记录,请稍后重试。"
REFUSED_WRITE = "数据库拒绝了这次写入(有人同时修改):没有写入任何记录,请重试。"
UNEXPECTED = "发生了意外错误,已记入日志:请稍后重试;如持续出现,请联系系统管理员。"
NOT_FOUND = "没有这个页面或资源:请检查地址,或从首页重新进入。"
# what a refusal of the web framework itself says (its detail is English), by status
HTTP_DETAILS = {404: NOT_FOUND, 405: "此地址不支持这种操作:请从页面上的按钮或链接进入。",
                401: "尚未登录或登录已过期:请先登录。", 403: "无权进行此操作。"}


def _record_failure(request: Request, status: int) -> None:
    actor = getattr(request.state, "actor", None)
    if request.method not in WRITES:
        if status in (403, 404) and actor is not None:  # a read refused: kept in the access log
            template = access_log.route_of(request.method, request.url.path, request.path_params)
            access_log.record_apart(request.app.state.sessions, actor, at=request.app.state.clock(),
                                    route=template, status=status,
                                    read=access_log.from_route(template, request.path_params))
        return
    request_log.record_apart(request.app.state.sessions, request_log.Entry(
        who=actor.name if actor else None, role=actor.role if actor else None, at=request.app.state.clock(),
        method=request.method, path=request.url.path, status=status))


def handle(request: Request, exc: Exception) -> Response:
    status, title = _status(exc)
    down = unavailable(exc)
    if down:
        log.error("%s %s: the database is unavailable: %s", request.method, request.url.path,
                  str(exc).splitlines()[0])
    elif status >= 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    if not down:
        _record_failure(request, status)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyAttempts):
        now = request.app.state.clock()
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
        headers = {"Retry-After": str(max(1, math.ceil((exc.until - now).total_seconds())))}
    if status == 503:
        headers = {"Retry-After": "30" if down else "2"}
    if down:
        detail = UNAVAILABLE
    elif isinstance(exc, IntegrityError):
        detail = REFUSED_WRITE
    elif isinstance(exc, OperationalError):
        detail = BUSY
    elif status == 500:
        detail = str(exc) if isinstance(exc, FangpinError) else UNEXPECTED
    else:
        detail = str(exc)
    field = getattr(exc, "field", None) if status == 422 else None
    if isinstance(exc, NoPackForYear):
        field = "year"
    answer = _console_page(request, status, title, detail)  # the console's pages answer with a page
    if answer is not None:
        if headers:
            answer.headers.update(headers)
        return answer
    return problem(status, title, detail, field=field, headers=headers)


def handle_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    located = from_validation(errors, skip=1) if errors else Invalid("请求内容有误")
    where = str(errors[0]["loc"][0]) if errors and errors[0].get("loc") else None
    _record_failure(request, 422)
    page = _console_page(request, 422, "Invalid request", str(located))
    if page is not None:
        return page
    return problem(422, "Invalid request", str(located), field=located.field, location=where)


def handle_pydantic(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return handle(request, from_validation(exc.errors()))


def handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    _record_failure(request, exc.status_code)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Not authenticated", 403: "Not allowed"}
    title = titles.get(exc.status_code, "HTTP error")
    given = str(exc.detail)
    # the framework's own words ("Not Found") are replaced; a detail fangpin wrote is kept
    detail = HTTP_DETAILS.get(exc.status_code, given) if given.isascii() else given
    headers = dict(exc.headers) if exc.headers else None
    page = _console_page(request, exc.status_code, title, detail)
    if page is not None:
        if headers:
            page.headers.update(headers)
        return page
    return problem(exc.status_code, title, detail, headers=headers)


def _console_page(request: Request, status: int, title: str, detail: str) -> Response | None:
    """The console's error page for a path under the console (its JSON calls excepted): never raw JSON."""
    html = getattr(request.app.state, "html_errors", None)
    if html is None or not request.url.path.startswith(html.prefix):
        return None
    answer: Response | None = html(request, status, title, detail)
    return answer


CLIENT_CLOSED = 499  # nginx's "client closed request": recorded, never sent


def handle_disconnect(request: Request, _exc: Exception) -> Response:
    """The client went away before its request's body had arrived (a phone losing its signal, a load test
    stopping): nothing was read or done, and no one is there for an answer. One line in the log, not a
    server error with its traceback; a write is kept in the request log with the status 499."""
    log.info("%s %s: the client disconnected before its request had arrived", request.method, request.url.path)
    _record_failure(request, CLIENT_CLOSED)
    return Response(status_code=CLIENT_CLOSED)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, handle_disconnect)
    app.add_exception_handler(RequestValidationError, handle_request_validation)
    app.add_exception_handler(ValidationError, handle_pydantic)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    # the driver's own errors too: the request log's pipelined commit talks to psycopg directly
    for kind in (FangpinError, IntegrityError, OperationalError, DBAPIError, SQLAlchemyTimeout, psycopg.Error,
                 Exception):
        app.add_exception_handler(kind, handle)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, description in (
        (400, "The body is not JSON"),
        (401, "No bearer token, or an unknown, expired, rotated or disabled one"),
        (403, "The user's role or county may not do this"),
        (404, "No such resource"),
        (409, "Conflicts with the current state: a skipped step, a stale version, publicity not over"),
        (422, "A value is invalid; `field` names it"),
        (429, "Too many refused tokens from this address lately; `Retry-After` says when to try again"),
        (503, "The database is unavailable (down or restarting) or busy: nothing was stored; try again"),
    )
}
