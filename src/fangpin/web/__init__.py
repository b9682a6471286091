"""The county prevention office's web console, on the API's FastAPI service under ``/console``.

Server-rendered pages (Jinja2) with a little plain JavaScript (drag-and-drop upload, progress by
server-sent events, ECharts charts, tables as cards on a phone), all shipped in the package: nothing is
built or fetched at run time. Static files are served compressed and cached by ``web.assets``.
``mount_console(app)`` adds it to an app built by ``fangpin.api.main``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

PREFIX = "/console"


def mount_console(app: FastAPI, *, runs_dir: Path | None = None, session_hours: float | None = None) -> None:
    """Add the console's pages, actions and static files to ``app``. ``runs_dir`` (default: the settings'
    ``runs_dir``) is where console runs write their results and where reports are read from;
    ``session_hours`` (default: the setting ``console_session_hours``, 8) is how long a sign-in lasts."""
    from fangpin.web import assets, auth, render
    from fangpin.web.routes import audit, claims, fund, home, households, runs, screening, simulate

    configure_console(app, runs_dir=runs_dir, session_hours=session_hours)
    app.state.html_errors = render.ConsoleErrors()  # errors of console pages: a page, not problem+json
    render.TEMPLATES.env.globals["static_url"] = assets.static_url  # versioned, long-cached URLs (web/assets.py)
    if is_mounted(app):
        return
    for module in (home, screening, runs, households, claims, fund, simulate, audit):
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)
    app.mount(f"{PREFIX}/static", assets.StaticApp(assets.ASSETS), name="console-static")  # gzip, cached
    app.add_exception_handler(auth.LoginRequired, render.login_redirect)
    app.add_exception_handler(auth.NotSignedIn, render.not_signed_in)
    app.add_exception_handler(auth.Forbidden, render.forbidden)


def configure_console(app: FastAPI, *, runs_dir: Path | None = None, session_hours: float | None = None) -> None:
    """Settings of a mounted console (tests set a runs folder and a session lifetime this way)."""
    if runs_dir is not None:
        app.state.console_runs_dir = Path(runs_dir)
    if session_hours is not None:
        app.state.console_session_hours = float(session_hours)


def is_mounted(app: FastAPI) -> bool:
    return any(getattr(route, "path", "").startswith(PREFIX) for route in app.routes)


__all__ = ["configure_console", "is_mounted", "mount_console"]
