"""The application: ``create_app(database_url, clock=...)`` builds it; ``fangpin serve`` runs it with uvicorn."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from sqlalchemy.orm import sessionmaker

import fangpin
from fangpin.api import errors
from fangpin.api.limits import BodyLimit
from fangpin.api.routes import checks, claims, decisions, fund, simulations
from fangpin.api.schemas import REQUEST_SCHEMAS, Problem
from fangpin.claims import role_matrix
from fangpin.config import get_settings
from fangpin.db.session import get_engine
from fangpin.packs.loader import shipped_rules_dir
from fangpin.services.checks import grouped_checks
from fangpin.services.health import touch_database

Clock = Callable[[], dt.datetime]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _description() -> str:
    roles = "\n".join(f"- **{role}**: {', '.join(acts) or 'read'}" for role, acts in role_matrix().items())
    return (
        "The rules engine of precise poverty-prevention insurance (精准防贫保险): single checks, the claim's path "
        "(docs/policy.md section 6) and the fund (section 7).\n\nEvery request carries `Authorization: Bearer <token>` "
        "(`fangpin users add NAME --role R --county C`). Every role reads its own county; besides:\n\n"
        f"{roles}\n\nErrors are `application/problem+json`; a 422 names the `field` at fault."
    )


def build_app(lifespan: Lifespan | None = None) -> FastAPI:
    """The routes, the error handlers and the OpenAPI document, with no database yet."""
    settings = get_settings()
    telemetry = settings.api_telemetry  # off: FastAPI does not look for OpenTelemetry providers per request
    app = FastAPI(title="fangpin", version=getattr(fangpin, "__version__", "0.1.0"), description=_description(),
                  openapi_url="/v1/openapi.json", docs_url="/v1/docs", redoc_url=None, lifespan=lifespan,
                  telemetry={"tracing": telemetry, "metrics": telemetry, "logs": telemetry})
    errors.install(app)
    # limits on bodies, before a body is read or anyone signed in (docs/limits.md)
    app.add_middleware(BodyLimit, max_body=settings.max_body_kb << 10,
                       max_upload=settings.max_upload_request_mb << 20)
    v1 = APIRouter(prefix="/v1")
    for module in (checks, claims, decisions, fund, simulations):
        v1.include_router(module.router)

    @v1.get("/health", tags=["health"], responses={503: {"description": "The database cannot be reached"}})
    def health(request: Request) -> dict[str, str]:
        """Is the service up and its database answering (``SELECT 1``; no token needed). A database that is
        down or restarting: 503, ``Database unavailable``."""
        dialect = touch_database(request.app.state.sessions)
        return {"status": "ok", "database": "ok", "dialect": dialect}

    app.include_router(v1)
    if not telemetry:  # POST /v1/checks spared the routers' matching (it names no route for telemetry)
        checks.go_direct(app, "/v1/checks")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, adapter in REQUEST_SCHEMAS.items():
                published = adapter.json_schema(ref_template="#/components/schemas/{model}")
                components.update(published.pop("$defs", {}))
                components[name] = published
            components["Problem"] = Problem.model_json_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    from fangpin.web import mount_console  # the office's web console, on the same service

    mount_console(app)
    return app


def create_app(database_url: str | None = None, *, clock: Clock | None = None,
               pack_dir: Path | None = None, threads: int | None = None) -> FastAPI:
    """The API on one database (migrated to the newest schema on first use), with a clock (default: the
    system's, in UTC) and optionally a named rule pack (default: the shipped pack in force for the year).
    ``threads``: how many requests a process works on at once (the rest wait their turn in the event loop;
    default: the setting ``api_threads``)."""
    settings = get_settings()
    threads = threads or settings.api_threads

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in anyio's thread pool (40 threads by default). Deciding is CPU work under the
        # GIL: a few threads finish requests sooner than many that take the GIL from each other, and
        # from the one holding the database's write lock.
        to_thread.current_default_thread_limiter().total_tokens = threads
        gc.collect()
        gc.freeze()  # the packs, engines and modules loaded so far live as long as the process: not scanned again
        yield
        grouped = getattr(app.state, "grouped_checks", None)
        if grouped is not None:  # the checks queued are stored, the lanes' connections given back
            await to_thread.run_sync(grouped.close)

    app = build_app(lifespan)
    engine = get_engine(database_url or settings.database_url)
    app.state.sessions = sessionmaker(engine, expire_on_commit=False)
    app.state.grouped_checks = grouped_checks(engine)  # None: checks stored one by one
    app.state.clock = clock or system_clock
    app.state.pack_dir = pack_dir
    app.state.rules_dir = shipped_rules_dir()  # the packs in force, as the settings name them now: read once
    return app


def app_from_env() -> FastAPI:
    """For uvicorn's ``--factory``: the database named by FANGPIN_DATABASE_URL; FANGPIN_API_THREADS requests
    worked on at once per process (default 2)."""
    return create_app(threads=get_settings().api_threads)
