"""Stored decisions, for auditors: read one, replay it under the pack that made it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fangpin.api.deps import ActorDep, SessionDep, answer
from fangpin.api.errors import PROBLEM_RESPONSES
from fangpin.api.schemas import DecisionOut, ReplayOut
from fangpin.services import checks

router = APIRouter(prefix="/decisions", tags=["decisions"])
DecisionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A stored decision's id.")]


@router.get("/{decision_id}", response_model=DecisionOut, responses=PROBLEM_RESPONSES)
def get_decision(decision_id: DecisionId, session: SessionDep, actor: ActorDep) -> Response:
    """A stored decision: its facts, what was paid before, amounts, rules, pack, document, chain position."""
    return answer(checks.decision_view(session, actor, decision_id))


@router.post("/{decision_id}/replay", response_model=ReplayOut, responses=PROBLEM_RESPONSES)
def replay_decision(decision_id: DecisionId, session: SessionDep, actor: ActorDep) -> Response:
    """Re-decide the stored facts under the pack that made the decision (auditors): identical, or the diff."""
    return answer(checks.replay(session, actor, decision_id))
