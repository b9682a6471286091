"""Signing in and out, and the start page."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fangpin.claims import NEXT, ROLES, moves_from
from fangpin.services import claim_views, console, runs, users
from fangpin.web import auth
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a console path of this site: never an open redirect."""
    if not target:
        return "/console"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or target.startswith("//"):
        return "/console"
    return target


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, session: DB, next: str | None = None) -> Response:
    viewer = auth.viewer_of(request, session)
    if viewer is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "name": ""})


@router.post("/login", include_in_schema=False)
def login(request: Request, session: DB, name: Annotated[str, Form(max_length=100)] = "",
          token: Annotated[str, Form(max_length=500)] = "", next: Annotated[str, Form()] = "/console") -> Response:
    now = auth.now(request)
    found = users.sign_in(session, name, token, address=request.client.host if request.client else None, at=now)
    if found.actor is None:
        refused = render(request, "login.html", {"next": _safe_next(next), "error": found.message, "name": name},
                         status=401 if found.until is None else 429)
        if found.until is not None:
            refused.headers["Retry-After"] = str(max(1, math.ceil((found.until - now).total_seconds())))
        return refused
    actor = found.actor
    valid_for = auth.lifetime(request)
    if found.token_expires is not None:
        valid_for = min(valid_for, found.token_expires - now)
    raw = console.open_session(session, actor.name, now, valid_for)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(auth.COOKIE, raw, max_age=int(valid_for.total_seconds()), path="/console", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, session: DB, _viewer: Annotated[Viewer, Depends(auth.action("home"))]) -> Response:
    console.close_session(session, request.cookies.get(auth.COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/console", httponly=True, samesite="strict")
    return response


def waiting_states(role: str) -> list[str]:
    """The states in which a claim waits for this role's forward step."""
    return [state for state in NEXT if any(role in move.role for move in moves_from(state) if move.to != "rejected")]


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("home"))]) -> Response:
    county = viewer.actor.county
    by_state = claim_views.counts_by_state(session, county, viewer.actor)
    waiting = {state: int(by_state.get(state, 0)) for state in waiting_states(viewer.actor.role)}
    latest = []
    if viewer.may("runs"):
        latest = runs.latest_runs(session, county, limit=5)
    return render(request, "home.html", {"by_state": by_state, "waiting": waiting, "runs": latest, "roles": ROLES,
                                        "next_steps": NEXT},
                  viewer=viewer)
