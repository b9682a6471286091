"""An API on a fresh database (SQLite and PostgreSQL), users of every role, a clock the test moves (the county,
clock and household document are tests/support.py's)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from fangpin.api.main import create_app
from fangpin.claims import ROLES
from fangpin.db.session import session_scope
from fangpin.services.users import add_user
from tests.support import COUNTY, OTHER_COUNTY, START, Clock, document


@dataclass
class Api:
    client: TestClient
    clock: Clock
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str = "auditor", **kwargs: Any) -> Response:
        return self.client.get(path, headers=self.auth(who), **kwargs)

    def post(self, path: str, body: Any = None, who: str = "office", **kwargs: Any) -> Response:
        return self.client.post(path, json=body, headers=self.auth(who), **kwargs)

    # --- the claim's path ---

    def open_claim(self, household_id: str = "130434-0001", who: str = "office", **overrides: Any) -> dict[str, Any]:
        response = self.post("/v1/claims", document(household_id, **overrides), who=who)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def step_body(self, to: str, **overrides: Any) -> dict[str, Any]:
        today = self.clock.today()
        bodies: dict[str, dict[str, Any]] = {
            "surveyed": {"visit_date": today, "findings": "hospital bills seen; household as declared",
                         "verified": {"illness": "45000.00", "schooling": "0.00", "disaster": "0.00"}},
            "publicised": {"deliberation": {"result": "approved"}, "publicity_start": today,
                           "objections": [{"raised_by": "neighbour", "text": "owns a car", "upheld": False}]},
            "cross_checked": {"confirmations": [{"department": "health", "confirmed": True, "reference": "Y-7"},
                                                {"department": "civil_affairs", "confirmed": True}]},
            "filed": {"filing_number": "FP-2019-0001"},
            "paid": {"payment_reference": "PICC-88", "amount": "13000.00", "paid_on": today},
            "rejected": {"reason": "the household's income is higher than declared"},
        }
        return {"to": to, **bodies[to], **overrides}

    def move(self, claim: dict[str, Any], to: str, who: str | None = None, **overrides: Any) -> Response:
        body = {**self.step_body(to, **overrides)}
        body.setdefault("version", claim["version"])
        return self.post(f"/v1/claims/{claim['id']}/transitions", body, who=who or ACTING[to])

    def advance(self, claim: dict[str, Any], to: str, **overrides: Any) -> dict[str, Any]:
        if to == "cross_checked":
            self.clock.advance(days=7)
        response = self.move(claim, to, **overrides)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def claim_at(self, state: str, household_id: str = "130434-0001") -> dict[str, Any]:
        claim = self.open_claim(household_id)
        for step in PATH[1:PATH.index(state) + 1]:
            claim = self.advance(claim, step)
        return claim


PATH = ["opened", "surveyed", "publicised", "cross_checked", "filed", "paid"]
ACTING = {"surveyed": "surveyor", "publicised": "village", "cross_checked": "department", "filed": "office",
          "paid": "payer", "rejected": "office"}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def api(database_url: str, clock: Clock) -> Iterator[Api]:
    app = create_app(database_url, clock=clock)
    tokens: dict[str, str] = {}
    with session_scope(database_url) as session:
        for role in ROLES:
            tokens[role] = add_user(session, role, role, COUNTY)
            tokens[f"other_{role}"] = add_user(session, f"other_{role}", role, OTHER_COUNTY)
        tokens["payer"] = add_user(session, "payer", "surveyor", COUNTY)  # pays what another surveyor surveyed
        tokens["other_payer"] = add_user(session, "other_payer", "surveyor", OTHER_COUNTY)
    with TestClient(app) as client:
        yield Api(client, clock, database_url, tokens)
