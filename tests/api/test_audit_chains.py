"""What the API stores is append-only and chained: checks extend the county's chain of decisions, claim
steps its chain of claim events, and `fangpin audit verify`'s walker finds them intact, or altered."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fangpin.db import chained
from fangpin.db.claims_models import ClaimEvent
from fangpin.db.session import get_engine, session_scope
from fangpin.services.audit import verify_chains
from tests.api.conftest import Api
from tests.support import document


@pytest.fixture
def with_claim_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(chained.CHAINS, "claim_events", ClaimEvent)


def test_checks_and_claim_steps_leave_every_chain_intact(api: Api, with_claim_chain: None) -> None:
    api.post("/v1/checks", document(), who="surveyor")
    api.claim_at("paid")
    api.claim_at("surveyed", "130434-0002")
    api.post("/v1/checks", document(county="130435"), who="other_village")

    with session_scope(api.database_url) as session:
        assert verify_chains(session, ("decisions", "payments", "claim_events")) == []
        seqs = session.execute(sa.select(ClaimEvent.seq).order_by(ClaimEvent.seq)).scalars().all()
    assert seqs == list(range(1, 9))  # 6 steps of the first claim, 2 of the second, one chain for the county


def test_an_altered_claim_step_breaks_the_chain_at_that_step(api: Api, with_claim_chain: None) -> None:
    claim = api.claim_at("paid")
    paid = api.get(f"/v1/claims/{claim['id']}").json()["history"][-1]

    with get_engine(api.database_url).begin() as connection:
        connection.execute(sa.text("UPDATE claim_events SET who = 'someone else' WHERE seq = :seq"),
                           {"seq": paid["seq"]})
    with session_scope(api.database_url) as session:
        breaks = verify_chains(session, ("claim_events",))

    assert [(b.chain, b.seq) for b in breaks] == [("claim_events", paid["seq"])]
    assert "altered" in breaks[0].problem
