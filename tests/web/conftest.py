"""The console on a fresh database (SQLite and PostgreSQL): users of every role in two counties, a browser
(TestClient) per user with its own cookies, a clock the test moves, and a runs folder of its own."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from fangpin.api.main import create_app
from fangpin.claims import ROLES
from fangpin.db.models import JobRecord
from fangpin.db.session import session_scope
from fangpin.services import claims as claims_service
from fangpin.services.jobs import Worker
from fangpin.services.users import add_user
from fangpin.web import mount_console
from tests.support import COUNTY, DEMO, OTHER_COUNTY, START, Clock, document, wait_for_job


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page carries no form token"
    return found.group(1)


def text_of(page: str) -> str:
    """The visible text of a page, whitespace collapsed (for assertions on what a person reads)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


USER_ROLES = {"payer": "surveyor"}  # users whose name is not their role


@dataclass
class Console:
    app: FastAPI
    clock: Clock
    database_url: str
    runs_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)
    clients: list[TestClient] = field(default_factory=list)

    def anonymous(self) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        client.__enter__()
        self.clients.append(client)
        return client

    def login(self, who: str) -> TestClient:
        client = self.anonymous()
        response = client.post("/console/login", data={"name": who, "token": self.tokens[who], "next": "/console"})
        assert response.status_code == 303, response.text
        return client

    def csrf(self, client: TestClient, path: str = "/console") -> str:
        return csrf_of(client.get(path).text)

    def upload(self, client: TestClient, folder: Path = DEMO, year: int = 2019, county: str = COUNTY) -> Response:
        files = [("files", (path.name, path.read_bytes())) for path in sorted(folder.iterdir()) if path.is_file()]
        return client.post("/console/screening", data={"csrf": self.csrf(client), "year": str(year),
                                                       "county": county},
                           files=files, headers={"Accept": "application/json"})

    def screen_demo(self, client: TestClient) -> dict[str, Any]:
        """Upload the demo drop as the office and wait for the run to finish; the job's last state."""
        response = self.upload(client)
        assert response.status_code == 202, response.text
        job = self.wait(client, response.json()["job_id"])
        assert job["state"] == "done", job
        return job

    def wait(self, client: TestClient, job_id: str) -> dict[str, Any]:
        """The screening job's last state, once it is done or failed."""
        return wait_for_job(client, f"/console/api/jobs/{job_id}")

    def open_claim(self, who: str = "office", household_id: str = "130434-0001", **overrides: Any) -> int:
        """A claim opened on an application through the API's own service."""
        from fangpin.documents import household_from

        actor = next(a for a in self.actors() if a.name == who)
        with session_scope(self.database_url) as session:
            view = claims_service.open_application(session, actor, household_from(document(household_id, **overrides)),
                                                   now=self.clock())
        return int(view["id"])

    def actors(self) -> list[Any]:
        from fangpin.claims import Actor

        return [Actor(name=name, role=USER_ROLES.get(name, name.removeprefix("other_")),  # type: ignore[arg-type]
                      county=OTHER_COUNTY if name.startswith("other_") else COUNTY) for name in self.tokens]


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def console(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[Console]:
    app = create_app(database_url, clock=clock)
    runs_dir = tmp_path / "runs"
    mount_console(app, runs_dir=runs_dir)  # the lead mounts it in build_app(); mounting again only configures
    tokens: dict[str, str] = {}
    with session_scope(database_url) as session:
        for role in ROLES:
            tokens[role] = add_user(session, role, role, COUNTY)
            tokens[f"other_{role}"] = add_user(session, f"other_{role}", role, OTHER_COUNTY)
        tokens["payer"] = add_user(session, "payer", "surveyor", COUNTY)  # pays what another surveyor surveyed
    state = Console(app, clock, database_url, runs_dir, tokens)
    worker = Worker(database_url, poll_seconds=0.05)  # the job worker `fangpin serve` starts, as a thread here
    worker.start_thread()
    yield state
    worker.stop_thread()
    with session_scope(database_url) as session:  # uploads of jobs the test left queued
        for folder in session.scalars(select(JobRecord.drop_dir).where(JobRecord.state == "queued")):
            shutil.rmtree(folder, ignore_errors=True)
    for client in state.clients:
        client.__exit__(None, None, None)
