"""Signing in to the console, its sessions, and who may open which page.

A user signs in with the name and token ``fangpin users add`` printed; the token is checked against
``users.token_hash`` with the API's own hash and rules (``services.users.sign_in``), so the console and the
API know the same users, roles and counties; every attempt is recorded, and a name or address with too many
recent failures is refused for a while (429, ``services.logins``). A session is a random id in an HttpOnly,
SameSite=Strict cookie; the database keeps only its sha256 (``console_sessions``, ``services.console``) with an
expiry (8 hours by default, the setting ``console_session_hours``: ``FANGPIN_CONSOLE_SESSION_HOURS``), and it
ends at once when its user is disabled or their token expires or is rotated. Every page and action checks the
session, the role and the county: pages answer 303 to the login page, actions and data endpoints 401; a role
that may not answers 403.
Forms also carry a token derived from the session (``csrf``), checked on every POST.
"""

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from fangpin.claims import REPLAYERS, ROLES, Actor, Role
from fangpin.config import get_settings
from fangpin.services import access_log, console
from fangpin.services.console import aware

COOKIE = "fangpin_console"

ALL_ROLES: frozenset[Role] = frozenset(ROLES)
# What each role sees. Claims are moved only by the role of each step (``fangpin.claims``); the board
# shows every role its county's claims and offers it only its own steps.
SECTIONS: dict[str, frozenset[Role]] = {
    "home": ALL_ROLES,
    "screening": frozenset({"office"}),
    "runs": frozenset({"office", "auditor"}),
    "households": ALL_ROLES,
    "claims": ALL_ROLES,
    "fund": frozenset({"office", "auditor"}),
    "audit": REPLAYERS,
    "reads": frozenset({"office", "auditor"}),  # the access log (services.access_log)
}


class LoginRequired(Exception):
    """A page was asked for without a valid session: answered with 303 to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


class NotSignedIn(Exception):
    """An action or data endpoint without a valid session: 401."""


class Forbidden(Exception):
    """The user's role (or county) may not see this page or do this: 403."""

    def __init__(self, message: str, viewer: "Viewer | None" = None) -> None:
        self.viewer = viewer
        super().__init__(message)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request, with the form token of their session."""

    actor: Actor
    csrf: str
    expires_at: dt.datetime

    def may(self, section: str) -> bool:
        return self.actor.role in SECTIONS[section]


def now(request: Request) -> dt.datetime:
    """The app's clock (the API's ``app.state.clock``; tests move it), in UTC."""
    clock: Callable[[], dt.datetime] | None = getattr(request.app.state, "clock", None)
    moment = clock() if clock is not None else dt.datetime.now(dt.UTC)
    return aware(moment)


def lifetime(request: Request) -> dt.timedelta:
    hours = getattr(request.app.state, "console_session_hours", None)
    if hours is None:
        hours = get_settings().console_session_hours
    return dt.timedelta(hours=float(hours))


def csrf_token(raw: str) -> str:
    return hashlib.sha256(f"fangpin-console-csrf:{raw}".encode()).hexdigest()


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the answer is sent, with what the request read
    recorded in the access log (``services.access_log``): what its services noted, or for a page or a
    download the route itself, with the status the page was rendered with (``render.render``)."""
    with request.app.state.sessions() as session, session.begin():
        yield session
        template = access_log.route_of(request.method, request.url.path, request.path_params)
        access_log.record(session, getattr(request.state, "actor", None), at=now(request),
                          route=template, status=getattr(request.state, "status", 200),
                          fallback=access_log.from_route(template, request.path_params)
                          if request.method == "GET" else None)


DB = Annotated[Session, Depends(db_session, scope="function")]


def viewer_of(request: Request, session: Session) -> Viewer | None:
    """The request's signed-in user, or None (no cookie, an unknown or expired session, a removed,
    disabled or expired user, or one whose token was rotated)."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 200:
        return None
    found = console.signed_in(session, raw, now(request), sessions=request.app.state.sessions)
    if found is None:
        return None
    actor = found.actor
    request.state.actor = actor  # the API's error handlers log who failed
    return Viewer(actor=actor, csrf=csrf_token(raw), expires_at=found.expires_at)


def _forbidden(viewer: Viewer, sections: tuple[str, ...]) -> Forbidden:
    from fangpin.web.labels import ROLES as ROLE_LABELS

    role = ROLE_LABELS.get(viewer.actor.role, viewer.actor.role)
    return Forbidden(f"{viewer.actor.name}({role})无权访问此页面或操作", viewer)


def page(*sections: str) -> Callable[[Request, Session], Viewer]:
    """A page's dependency: the viewer, or 303 to the login page, or 403 for a role that may not."""

    def dependency(request: Request, session: DB) -> Viewer:
        viewer = viewer_of(request, session)
        if viewer is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        if not all(viewer.may(section) for section in sections):
            raise _forbidden(viewer, sections)
        return viewer

    return dependency


def data(*sections: str) -> Callable[[Request, Session], Viewer]:
    """A data endpoint's (JSON, downloads, progress) dependency: 401 without a session, 403 for a role."""

    def dependency(request: Request, session: DB) -> Viewer:
        viewer = viewer_of(request, session)
        if viewer is None:
            raise NotSignedIn("未登录或会话已过期")
        if not all(viewer.may(section) for section in sections):
            raise _forbidden(viewer, sections)
        return viewer

    return dependency


def action(*sections: str) -> Callable[[Request, Viewer], Coroutine[Any, Any, Viewer]]:
    """An action's (POST) dependency: as ``data``, and the form token of the session must come with it,
    as the form field ``csrf`` or the header ``X-CSRF-Token``."""
    signed_in = data(*sections)

    async def dependency(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
        sent = request.headers.get("x-csrf-token")
        if not sent:
            form = await request.form()
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        if not sent or not hmac.compare_digest(sent, viewer.csrf):
            raise Forbidden("表单已失效(缺少或错误的校验码),请刷新页面后重试", viewer)
        return viewer

    return dependency


def same_county(viewer: Viewer, county: str, what: str) -> None:
    if county != viewer.actor.county:
        raise Forbidden(f"{what}属于县(区){county};{viewer.actor.name}在县(区){viewer.actor.county}工作", viewer)
