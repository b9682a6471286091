"""What POST /v1/checks answers and stores, byte for byte, on many varied households (boundaries included),
is what deciding gives when the engine is asked every time (no memo), on SQLite and on PostgreSQL: the work
done to spare the server's CPU (deciding in the event loop, the engine's memo by threshold class, raw
statements in the group commit) changes no answer, no record, no chain and no request-log line."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from fangpin.api.routes import checks as check_route
from fangpin.db.claims_models import RequestLog
from fangpin.db.models import DecisionRecord, PackRecord
from fangpin.db.session import session_scope
from fangpin.deciding import decide
from fangpin.documents import household_from
from fangpin.engine import EngineFacts, PolicyEngine
from fangpin.services import users
from fangpin.services.audit import verify_chains
from fangpin.services.checks import decision_row, pack_for
from tests.api.conftest import Api
from tests.support import COUNTY, START, random_household

CHECKS = 240


class AskedEveryTime(PolicyEngine):
    """The pack's engine, asked on every call (its memo by threshold class bypassed)."""

    def fire(self, facts: EngineFacts, *, memo: bool = True) -> tuple[str, ...]:
        return super().fire(facts, memo=False)


def varied_documents() -> list[dict[str, Any]]:
    """Seeded households, and households on the per-capita line and one fen either side of it."""
    rng = random.Random(16)
    documents = [random_household(rng, f"{COUNTY}-V{n:04d}").model_dump(mode="json", exclude_none=True)
                 for n in range(CHECKS)]
    for n, income in enumerate(("4599.99", "4600.00", "4600.01", "4799.99", "4800.00", "4800.01", "0.00",
                                "6899.99", "6900.00", "6900.01")):
        document = dict(documents[n])
        document.update(household_id=f"{COUNTY}-B{n:04d}", income_per_capita=income)
        documents.append(document)
    return documents


def test_answers_and_records_are_what_deciding_gives(api: Api) -> None:
    documents = varied_documents()
    pack = pack_for(2019, None)
    engine = AskedEveryTime(pack)
    outcomes: set[str] = set()
    ids: list[int] = []
    for document in documents:
        response = api.post("/v1/checks", document, who="surveyor")
        assert response.status_code == 201, response.text
        household = household_from(json.loads(json.dumps(document)), source="body")
        decision = decide(household, pack, engine)
        stored = response.json()["id"]
        expected = json.dumps({"id": stored, "decision": decision.to_json_dict()}, ensure_ascii=False,
                              separators=(",", ":"))
        assert response.content.decode() == expected  # the very bytes
        outcomes.add(decision.outcome)
        ids.append(stored)
        row = decision_row(decision, {c.cause: c.paid_before for c in decision.causes},
                           document=household.to_document(), at=START)
        with session_scope(api.database_url) as session:
            record = session.get(DecisionRecord, stored)
            assert record is not None
            for name, value in row.items():
                if name != "recorded_at":
                    assert getattr(record, name) == value, name
            recorded = record.recorded_at
            assert (recorded if recorded.tzinfo else recorded.replace(tzinfo=START.tzinfo)) == START
    assert {"pay", "below_deductible", "not_covered"} <= outcomes  # the households do vary
    assert len(set(ids)) == len(documents)
    with session_scope(api.database_url) as session:
        assert verify_chains(session, ("decisions",)) == []
        seqs = session.scalars(sa.select(DecisionRecord.seq).order_by(DecisionRecord.seq)).all()
        assert seqs == list(range(1, len(documents) + 1))
        logged = session.execute(sa.select(RequestLog.who, RequestLog.method, RequestLog.path, RequestLog.status)
                                 .where(RequestLog.path == "/v1/checks")).all()
        assert logged == [("surveyor", "POST", "/v1/checks", 201)] * len(documents)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_a_check_goes_to_the_thread_pool_only_when_the_database_is_needed(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first check stores the pack (and commits the user's sign-in) in the thread pool, the second finds
    it stored (a pack is remembered as stored only once seen committed); the next ones, with the pack known
    stored and the user remembered, are decided in the event loop. A refusal is answered as before."""
    pooled: list[str] = []
    real = check_route.run_in_threadpool

    async def counted(function: Any, *args: Any) -> Any:
        pooled.append(getattr(function, "__name__", repr(function)))
        return await real(function, *args)

    monkeypatch.setattr(check_route, "run_in_threadpool", counted)
    monkeypatch.setattr(users.TOKENS, "_ttl", 600.0)  # the user stays remembered however slow the machine
    documents = varied_documents()[:6]
    for document in documents[:2]:
        response = api.post("/v1/checks", document, who="surveyor")
        assert response.status_code == 201, response.text
    assert pooled == ["settle", "settle"]
    with session_scope(api.database_url) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PackRecord)) == 1
    pooled.clear()
    for document in documents[2:]:
        response = api.post("/v1/checks", document, who="surveyor")
        assert response.status_code == 201, response.text
        assert Decimal(response.json()["decision"]["payout"]) >= 0
    assert pooled == []
    refused = api.post("/v1/checks", {**documents[1], "members": 0}, who="surveyor")
    assert refused.status_code == 422 and refused.json()["field"] == "members"
    assert pooled == []
