"""Rendering the console's pages (Jinja2, autoescaped), its formatting filters, and its error answers."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from fangpin import counties
from fangpin.claims import LOCAL
from fangpin.config import get_settings
from fangpin.labels import PROBLEMS, STATUS_TITLES
from fangpin.services import access_log
from fangpin.services.console import aware
from fangpin.termout import amount_or_text
from fangpin.web import labels
from fangpin.web.auth import LoginRequired, Viewer, now

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
SECURITY_HEADERS = {
    # scripts only from the console itself (no inline script, no CDN); ECharts styles its tooltips inline
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def yuan(fen: int | None, grouped: bool = True) -> str:
    """Integer fen as yuan with two decimals (and thousands separators), never through a float."""
    if fen is None:
        return "—"
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}" if grouped else f"{sign}{whole}.{cents:02d}"


def money_text(value: Any) -> str:
    """A yuan amount given as text or Decimal, with thousands separators."""
    if value is None:
        return "—"
    text = str(value)
    sign = "-" if text.startswith("-") else ""
    whole, _, cents = text.lstrip("-").partition(".")
    try:
        return f"{sign}{int(whole):,}.{(cents + '00')[:2]}"
    except ValueError:
        return text


def percent(rate: Any) -> str:
    """A rate (0.5) as a percentage (50%), exactly."""
    value = (Decimal(str(rate)) * 100).normalize()
    return f"{value:f}%"


def local_time(moment: dt.datetime | str | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, str):
        try:
            parsed = dt.datetime.fromisoformat(moment)
        except ValueError:
            return moment
        return aware(parsed).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
    return aware(moment).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def number(value: int | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return request.url.path + (f"?{urlencode(params)}" if params else "")


TEMPLATES.env.filters.update(yuan=yuan, money=money_text, local=local_time, number=number, percent=percent,
                             tojson_attr=lambda value: json.dumps(value, ensure_ascii=False))
TEMPLATES.env.filters["record"] = labels.record_lines
TEMPLATES.env.filters["county"] = counties.label
TEMPLATES.env.filters["amount_or_text"] = amount_or_text  # "4800.00" → "4,800.00"; other text as it is
TEMPLATES.env.filters["encoding"] = labels.encoding_label
TEMPLATES.env.filters["step_label"] = lambda step: labels.STEPS_OF_STAGES.get(step, step)
TEMPLATES.env.globals.update(labels=labels, url_with=url_with)


def runs_dir(request: Request) -> Path:
    configured = getattr(request.app.state, "console_runs_dir", None)
    return Path(configured) if configured is not None else get_settings().runs_dir


def render(request: Request, template: str, context: dict[str, Any], *, viewer: Viewer | None = None,
           status: int = 200) -> HTMLResponse:
    request.state.status = status  # the access log keeps the status a page was answered with
    response = TEMPLATES.TemplateResponse(request, template, {"viewer": viewer, **context}, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def json_answer(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store",
                                                           "X-Content-Type-Options": "nosniff"})


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/console/api/") or "application/json" in request.headers.get("accept", "")


def error_page(request: Request, status: int, title: str, detail: str, viewer: Viewer | None = None) -> Response:
    request.state.status = status
    if wants_json(request):
        return json_answer({"status": status, "title": title, "detail": detail}, status)
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, viewer=viewer,
                  status=status)


class ConsoleErrors:
    """How the API's error handlers (``api.errors``) answer a console page: the error page, in the console's
    words (``fangpin.labels``). None for the console's own JSON calls (/console/api/, Accept:
    application/json): they get the API's problem+json."""

    prefix = "/console"

    def __call__(self, request: Request, status: int, title: str, detail: str) -> Response | None:
        if wants_json(request):
            return None
        named = PROBLEMS.get(title) or STATUS_TITLES.get(status, "出错了")
        return error_page(request, 503 if title.startswith("Database") else status, named, detail,
                          _viewer(request))


def _viewer(request: Request) -> Viewer | None:
    """The signed-in user of a request that failed, if its route got as far as knowing them (for the menu)."""
    viewer = getattr(request.state, "viewer", None)
    return viewer if isinstance(viewer, Viewer) else None


def login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/console/login?next={quote(exc.next_path, safe='')}", status_code=303,
                            headers={"Cache-Control": "no-store"})


def not_signed_in(request: Request, exc: Exception) -> Response:
    response = error_page(request, 401, "未登录", f"{exc};请先登录。")
    response.headers["WWW-Authenticate"] = 'Cookie realm="fangpin-console"'
    return response


def forbidden(request: Request, exc: Exception) -> Response:
    """403; a read refused is kept in the access log (its transaction was rolled back)."""
    viewer = getattr(exc, "viewer", None)
    if request.method == "GET" and viewer is not None:
        template = access_log.route_of("GET", request.url.path, request.path_params)
        access_log.record_apart(request.app.state.sessions, viewer.actor, at=now(request),
                                route=template, status=403,
                                read=access_log.from_route(template, request.path_params))
    return error_page(request, 403, "无权操作", str(exc), viewer)
