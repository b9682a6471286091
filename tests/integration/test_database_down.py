"""The database stopped under load and started again, on a PostgreSQL cluster of this test's own (never the
shared server): every request gets its answer or a clear 503 (problem+json on /v1, the error page on the
console's pages), none a 500; nothing is half-written; once the database is back, everything answers again.
And ``GET /v1/health`` says whether the database answers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fangpin.api.main import create_app
from fangpin.db.claims_models import RequestLog
from fangpin.db.models import DecisionRecord
from fangpin.db.session import dispose_all, session_scope
from fangpin.services.audit import verify_chains
from fangpin.services.users import add_user
from fangpin.web import mount_console
from tests.private_postgres import private_postgres
from tests.support import COUNTY, START, Clock, document


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited two minutes for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_the_database_stopped_mid_load_gives_503_or_an_answer_never_500(tmp_path: Path) -> None:
    with private_postgres() as server:
        app = create_app(server.url, clock=Clock(START))
        mount_console(app, runs_dir=tmp_path / "runs")
        with session_scope(server.url) as session:
            token = add_user(session, "office", "office", COUNTY)

        answers: list[tuple[str, int, str, str]] = []  # kind, status, content type, body
        lock = threading.Lock()
        stop = threading.Event()
        counter = iter(range(1, 10**6))

        def load(kind: str) -> None:
            with TestClient(app, follow_redirects=False) as client:
                signed_in = client.post("/console/login", data={"name": "office", "token": token, "next": "/console"})
                assert signed_in.status_code == 303
                while not stop.is_set():
                    if kind == "check":
                        with lock:
                            number = next(counter)
                        response = client.post("/v1/checks", json=document(f"{COUNTY}-{number:06d}"),
                                               headers={"Authorization": f"Bearer {token}"})
                    elif kind == "health":
                        response = client.get("/v1/health")
                    else:
                        response = client.get("/console/runs")
                    with lock:
                        answers.append((kind, response.status_code, response.headers.get("content-type", ""),
                                        response.text[:2000]))

        def seen(kind: str, status: int) -> int:
            with lock:
                return sum(1 for k, s, _, _ in answers if k == kind and s == status)

        threads = [threading.Thread(target=load, args=(kind,), daemon=True)
                   for kind in ("check", "check", "health", "page")]
        for thread in threads:
            thread.start()
        _until(lambda: seen("check", 201) >= 5 and seen("page", 200) >= 2, "answers before the database stops")
        server.stop("fast")
        _until(lambda: all(seen(kind, 503) >= 2 for kind in ("check", "health", "page")),
               "503 answers while the database is down")
        before_restart = {kind: seen(kind, 200 if kind != "check" else 201) for kind in ("check", "health", "page")}
        server.start()
        _until(lambda: seen("check", 201) > before_restart["check"] + 5
               and seen("health", 200) > before_restart["health"] and seen("page", 200) > before_restart["page"],
               "answers once the database is back")
        stop.set()
        for thread in threads:
            thread.join(60)

        statuses = Counter((kind, status) for kind, status, _, _ in answers)
        assert {status for _, status in statuses} <= {200, 201, 503}, statuses
        for kind, status, content_type, body in answers:
            if status != 503:
                continue
            if kind == "page":
                assert content_type.startswith("text/html") and "数据库不可用" in body, body
            else:
                assert content_type == "application/problem+json", body
                assert '"title": "Database unavailable"' in body and "数据库暂时无法连接" in body, body
        health = [body for kind, status, _, body in answers if kind == "health" and status == 200]
        assert '"database":"ok"' in health[-1]

        # nothing half-written: every stored decision was committed with its request-log line, the chains
        # verify, and every 201 answer has its decision
        created = statuses[("check", 201)]
        with session_scope(server.url) as session:
            decisions = session.scalar(select(func.count()).select_from(DecisionRecord))
            logged = session.scalar(select(func.count()).select_from(RequestLog)
                                    .where(RequestLog.path == "/v1/checks", RequestLog.status == 201))
            assert verify_chains(session) == []
        assert decisions == logged
        assert decisions is not None and created <= decisions <= created + statuses[("check", 503)]
        print(f"\nanswers while the database stopped and started: {dict(statuses)}; decisions stored {decisions}")
        dispose_all()


def test_health_touches_the_database(database_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(database_url)) as client:
        answer = client.get("/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok",
                             "dialect": "sqlite" if database_url.startswith("sqlite") else "postgresql"}


def test_health_of_a_database_that_cannot_be_opened_is_503(tmp_path: Path) -> None:
    """A SQLite file that cannot be opened any more (its folder is gone): 503, not 500."""
    folder = tmp_path / "data"
    folder.mkdir()
    app = create_app(f"sqlite:///{folder / 'fangpin.db'}")
    dispose_all()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    with TestClient(app) as client:
        answer = client.get("/v1/health")
    assert answer.status_code == 503 and answer.json()["title"] == "Database unavailable"
    assert answer.headers["content-type"] == "application/problem+json"
