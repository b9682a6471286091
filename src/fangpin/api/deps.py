"""What routes receive: a session per request (committed before the answer is sent, or rolled back), the
authenticated user, the clock, and the request body read as exact JSON."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncGenerator
from decimal import Decimal
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fangpin.api.errors import WRITES, Invalid, MalformedBody
from fangpin.claims import Actor
from fangpin.documents import household_from
from fangpin.errors import DocumentError
from fangpin.exactyaml import load_json
from fangpin.facts import Household
from fangpin.labels import field_label
from fangpin.services import access_log, request_log, users


async def get_session(request: Request) -> AsyncGenerator[Session, None]:
    """One transaction per request, committed by the route (``commit``) as soon as its service returns, so
    the write locks are held for the work only; committed here otherwise (reads), rolled back on any error.
    A request that changes something is recorded in the request log in the same transaction: recorded
    exactly when it changed something (failures are recorded by the error handlers, in their own).
    Async, so that a request costs one trip to the thread pool (the route), not three; whatever touches
    the database here still runs in the pool."""
    session: Session = request.app.state.sessions()
    try:
        yield session
    except BaseException:
        # Rolled back here, not in the thread pool: a failed writer still holds its chain's lock, and the
        # pool's threads may all be taken by requests waiting for that lock.
        _abandon(session)
        raise
    if session.in_transaction():
        await run_in_threadpool(_finish, request, session)
    else:
        session.close()  # committed by the route: nothing is left to do


def _abandon(session: Session) -> None:
    try:
        session.rollback()
        session.close()
    except Exception:  # the connection is gone (the database went down): the request's error is answered
        session.invalidate()


def _finish(request: Request, session: Session) -> None:
    try:
        commit(request, session)
    finally:
        session.close()


def commit(request: Request, session: Session) -> None:
    """Record the request (when it is one that changes something), what it read (the access log: what its
    services noted, or for a GET the route itself), and commit."""
    entry = log_entry(request)
    actor: Actor | None = getattr(request.state, "actor", None)
    status = getattr(request.scope.get("route"), "status_code", None) or 200
    template = access_log.route_of(request.method, request.url.path, request.path_params)
    access_log.record(session, actor, at=request.app.state.clock(), route=template, status=status,
                      fallback=access_log.from_route(template, request.path_params)
                      if request.method == "GET" else None)
    request_log.record_and_commit(session, entry)


def log_entry(request: Request) -> request_log.Entry | None:
    """The request's line in the request log, when it is one that changes something (answered with the
    route's status: failures are recorded by the error handlers)."""
    if request.method not in WRITES:
        return None
    actor: Actor | None = getattr(request.state, "actor", None)
    return request_log.Entry(who=actor.name if actor else None, role=actor.role if actor else None,
                             at=request.app.state.clock(), method=request.method, path=request_path(request),
                             status=getattr(request.scope.get("route"), "status_code", None) or 200)


def request_path(request: Request) -> str:
    """``request.url.path`` without building the whole URL (the Host header parsed, the URL split again) when
    the path is made of the characters a URL's path may hold as they are; any other path as Starlette gives it
    (it escapes some characters, and splitting the URL drops others)."""
    path: str = request.scope["path"]
    return path if _PLAIN_PATH.fullmatch(path) else request.url.path


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~!$&'()*+,;=:@%-]*")


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

bearer = HTTPBearer(auto_error=False, description="The token `fangpin users add` (or `users rotate`) printed.")


async def current_actor(request: Request, session: SessionDep,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Actor:
    token = credentials.credentials if credentials else None
    now = request.app.state.clock()
    actor = users.remembered(session, token, now)
    if actor is None:  # not seen lately in this process: ask the database, in the pool
        actor = await run_in_threadpool(partial(users.authenticate, session, token, at=now,
                                                address=request.client.host if request.client else None,
                                                sessions=request.app.state.sessions))
    request.state.actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


async def get_clock(request: Request) -> dt.datetime:
    """Now, from the app's clock (tests inject one): the publicity period is counted against it."""
    now: dt.datetime = request.app.state.clock()
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


ClockDep = Annotated[dt.datetime, Depends(get_clock)]


async def json_body(request: Request) -> Any:
    """The body as JSON with every number a Decimal (a float never touches money), refusing text that
    PostgreSQL or UTF-8 cannot store (NUL, lone surrogates) with the field it is in."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedBody("请求内容不是 UTF-8 文本") from None
    try:
        data = load_json(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedBody(f"请求内容不是有效的 JSON 文档:{exc}") from None
    if _SUSPECT.search(text):  # only then walk the document to name the field
        _check_text(data)
    return data


# What json.loads turns into text PostgreSQL or UTF-8 cannot store, or into a float: NUL and surrogates
# (written escaped, or NUL raw), NaN and Infinity. Any match makes the body worth a walk.
_SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})|\x00|NaN|Infinity", re.ASCII)


JsonBody = Annotated[Any, Depends(json_body)]


def _check_text(data: Any) -> None:
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}" if path else str(key)
                _storable(key, where)
                stack.append((where, value))
        elif isinstance(node, list):
            stack.extend((f"{path}[{index}]", value) for index, value in enumerate(node))
        elif isinstance(node, str):
            _storable(node, path)
        elif isinstance(node, float):  # NaN, Infinity
            raise Invalid(f"{field_label(path or None)}:{node} 不是 JSON 允许的数", field=path or None)
        elif isinstance(node, Decimal) and not node.is_finite():
            raise Invalid(f"{field_label(path or None)}:{node} 不是有限的数", field=path or None)


def _storable(text: str, path: str) -> None:
    if "\x00" in text:
        raise Invalid(f"{field_label(path or None)}:文字中不能有空字符(NUL)", field=path or None)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"{field_label(path or None)}:文字不是有效的 Unicode(孤立代理字符)",
                      field=path or None) from None


def answer(data: Any, status: int = 200) -> Response:
    """A JSON answer, serialised once (the route's response_model documents it)."""
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), status_code=status,
                    media_type="application/json")


_HOUSEHOLD_AMOUNTS = ("income", "income_per_capita")  # the document's own amounts (docs/policy.md section 9)


def household_of(data: Any) -> Household:
    """A household document from a JSON body, every error naming its field (``documents.household_from``).
    An amount given as true/false escapes pydantic as a TypeError (``money.to_decimal``), one beyond the decimal
    context's precision as an ArithmeticError (``facts._non_negative_fen``); such amounts are located here.
    Event amounts are checked against the pack's fields later (``packs.events``), each error naming its field."""
    try:
        return household_from(data, source="body")
    except (TypeError, ArithmeticError):
        field = _non_amount(data)
        raise DocumentError(f"{field_label(field or 'document')}:不是金额(应为文本或数字,小于 10^15 元,最多两位小数)",
                            field=field, source="body") from None


def _non_amount(data: Any) -> str | None:
    """The household amount or ``paid_this_year`` entry (keyed by any of the pack's causes) that is unreadable."""
    if not isinstance(data, dict):
        return None
    places = [(key, data.get(key)) for key in _HOUSEHOLD_AMOUNTS]
    paid = data.get("paid_this_year")
    if isinstance(paid, dict):
        places += [(f"paid_this_year.{cause}", value) for cause, value in paid.items()]
    return next((where for where, value in places if value is not None and _unreadable(value)), None)


def _unreadable(value: Any) -> bool:
    """An amount pydantic cannot report: true/false, a float, or a number too large for the decimal context."""
    if isinstance(value, bool | float):
        return True
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            return False  # not a number at all: pydantic reports that with its field
    if isinstance(value, int):
        value = Decimal(value)
    return isinstance(value, Decimal) and (not value.is_finite() or abs(value) >= 10**15)
