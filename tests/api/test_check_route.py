"""POST /v1/checks is served by ``CheckRoute``, which calls the route's dependencies in straight-line code
instead of FastAPI's solver, and reached by ``Direct``, in the router, without FastAPI's route matching. Every
request, accepted or refused, must be answered exactly as FastAPI's own route for the same endpoint, reached
through FastAPI's routing, answers it (status, headers that matter, body) and leave the same line in the
request log: the two are run side by side here, on SQLite and on PostgreSQL, on the same database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx2 import Response

from fangpin.api.main import create_app
from fangpin.api.routes import checks as check_route
from fangpin.db.claims_models import RequestLog
from fangpin.db.session import session_scope
from fangpin.services.users import add_user
from tests.api.conftest import Api
from tests.support import COUNTY, START, Clock, document


@pytest.fixture
def general(api: Api) -> Iterator[TestClient]:
    """A second app on the same database whose POST /v1/checks is FastAPI's general route for the same
    endpoint (placed before the app's own, so that it is the one matched), reached through FastAPI's routing
    (the router's ``Direct`` taken out)."""
    app = create_app(api.database_url, clock=api.clock)
    assert isinstance(app.router.middleware_stack, check_route.Direct)
    app.router.middleware_stack = app.router.middleware_stack.app
    plain = APIRoute("/v1/checks", check_route.post_check, methods=["POST"], status_code=201)
    assert not isinstance(plain, check_route.CheckRoute)
    app.router.routes.insert(0, plain)
    with TestClient(app) as client:
        yield client


def _logged(database_url: str) -> list[tuple[Any, ...]]:
    with session_scope(database_url) as session:
        return [tuple(row) for row in session.execute(
            sa.select(RequestLog.who, RequestLog.role, RequestLog.method, RequestLog.path, RequestLog.status)
            .order_by(RequestLog.id)).all()]


def _answer(response: Response) -> tuple[int, str | None, str | None, Any]:
    body: Any = response.json() if response.content else None
    if isinstance(body, dict) and response.status_code == 201:
        body = {**body, "id": "stored"}  # each app stores its own decision
    return (response.status_code, response.headers.get("content-type"), response.headers.get("www-authenticate"),
            body)


def _requests(api: Api) -> list[tuple[str, dict[str, str], bytes]]:
    """(what, headers, body): accepted checks and every kind of refusal a check meets, in the order the
    dependencies meet them (the user before the body)."""

    def raw(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode()

    surveyor = {**api.auth("surveyor"), "content-type": "application/json"}
    good = document("130434-0101", income_per_capita="4500.00")
    return [
        ("accepted", surveyor, raw(good)),
        ("accepted, another household", surveyor, raw(document("130434-0102"))),
        ("no token", {"content-type": "application/json"}, raw(good)),
        ("unknown token", {"Authorization": "Bearer not-a-token", "content-type": "application/json"}, raw(good)),
        ("not a bearer token", {"Authorization": "Basic dXNlcjpwYXNz"}, raw(good)),
        ("no token and no JSON", {}, b"{not json"),
        ("auditor", {**api.auth("auditor")}, raw(good)),
        ("other county", {**api.auth("other_surveyor")}, raw(good)),
        ("not JSON", surveyor, b"{not json"),
        ("not UTF-8", surveyor, "{\"household_id\": \"甲\"}".encode("gbk")),
        ("empty", surveyor, b""),
        ("NUL in a field", surveyor, raw({**good, "village": "a\u0000b"})),
        ("NaN", surveyor, raw(good).replace(b'"4500.00"', b"NaN")),
        ("not a document", surveyor, raw([1, 2, 3])),
        ("no members", surveyor, raw({**good, "members": 0})),
        ("no pack for the year", surveyor, raw({**good, "year": 1990})),
        ("amount as true", surveyor, raw({**good, "income_per_capita": True})),
        ("amount too large", surveyor, raw({**good, "income_per_capita": "1" + "0" * 20})),
        ("identifier too long", surveyor, raw({**good, "head_name": "名" * 101})),
        ("too large", surveyor, b" " * (2 << 20) + raw(good)),
    ]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_every_request_is_answered_and_logged_as_fastapis_route_would(api: Api, general: TestClient) -> None:
    statuses: set[int] = set()
    for what, headers, body in _requests(api):
        before = len(_logged(api.database_url))
        expected = general.post("/v1/checks", content=body, headers=headers)
        after_general = _logged(api.database_url)[before:]
        got = api.client.post("/v1/checks", content=body, headers=headers)
        after_route = _logged(api.database_url)[before + len(after_general):]
        assert _answer(got) == _answer(expected), what
        assert after_route == after_general, what
        statuses.add(got.status_code)
    assert {201, 401, 403, 413, 422} <= statuses  # the requests do reach every kind of answer


def test_checks_do_not_go_through_fastapis_solver(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The route served is the straight-line one: FastAPI's solver is not called for a check (it is for
    another route, which shows the count is live)."""
    import fastapi.routing

    solved: list[str] = []
    real = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solved.append("solve")
        return await real(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    assert api.post("/v1/checks", document("130434-0201"), who="surveyor").status_code == 201
    assert solved == []
    assert api.get("/v1/claims", who="office").status_code == 200
    assert solved


@pytest.mark.parametrize("telemetry", [False, True])
def test_checks_skip_the_route_matching_unless_telemetry_is_on(
        telemetry: bool, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Direct`` hands a check to its route without FastAPI matching any route (it does for another path,
    and for the check too with telemetry on, which names the route matched); the check is answered either way."""
    if telemetry:
        monkeypatch.setenv("FANGPIN_API_TELEMETRY", "true")
    app = create_app(database_url, clock=Clock(START))
    assert isinstance(app.router.middleware_stack, check_route.Direct) is not telemetry
    with session_scope(database_url) as session:
        surveyor = {"Authorization": f"Bearer {add_user(session, 'surveyor', 'surveyor', COUNTY)}"}
    matched: list[str] = []
    real = APIRoute.matches

    def counted(self: APIRoute, scope: Any) -> Any:
        matched.append(self.path)
        return real(self, scope)

    monkeypatch.setattr(APIRoute, "matches", counted)
    with TestClient(app) as client:
        assert client.post("/v1/checks", json=document("130434-0301"), headers=surveyor).status_code == 201
        assert bool(matched) is telemetry
        assert client.get("/v1/claims", headers=surveyor).status_code == 200
        assert matched


@pytest.mark.parametrize("enabled", [False, True])
def test_fastapis_telemetry_looks_for_providers_only_when_the_setting_asks(
        enabled: bool, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI's native OpenTelemetry asks for the global providers on every request, reading the
    environment each time; fangpin configures none, so by default (``api_telemetry`` off) it is not asked."""
    from opentelemetry import trace

    asked: list[str] = []
    real = trace.get_tracer_provider

    def counted() -> Any:
        asked.append("tracer")
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counted)
    if enabled:
        monkeypatch.setenv("FANGPIN_API_TELEMETRY", "true")
    with TestClient(create_app(database_url)) as client:
        assert client.get("/v1/health").status_code == 200
    assert bool(asked) is enabled
