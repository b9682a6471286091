"""Reading claims: one claim with its history, the county's claims a page at a time, how many are in each
state, and when each claim's publicity ends. The views are what the API answers and the console shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangpin import privacy
from fangpin.claims import Actor, NotAllowed, in_county, moves_from
from fangpin.db.claims_models import Claim, ClaimEvent
from fangpin.db.models import DecisionRecord
from fangpin.fund import yuan
from fangpin.services import access_log
from fangpin.services.checks import PACKS, iso_utc


def _fen(value: int | None) -> str | None:
    return None if value is None else yuan(value)


def claim_view(claim: Claim, history: list[ClaimEvent] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": claim.id,
        "county": claim.county,
        "township": claim.township,
        "village": claim.village,
        "household_id": claim.household_id,
        "year": claim.year,
        "state": claim.state,
        "version": claim.version,
        "opened_by": claim.opened_by,
        "decision_id": claim.decision_id,
        "filing_decision_id": claim.filing_decision_id,
        "amount_decided": _fen(claim.amount_decided),
        "amount_paid": _fen(claim.amount_paid),
        "fee": _fen(claim.fee),
        "created_at": iso_utc(claim.created_at),
        "next": [{"to": move.to, "roles": sorted(move.role)} for move in moves_from(claim.state)],
    }
    if history is not None:
        view["history"] = [
            {"seq": event.seq, "step": event.step, "from_state": event.from_state,
             "who": {"name": event.who, "role": event.role}, "at": iso_utc(event.at), "record": event.payload,
             "record_hash": event.record_hash}
            for event in history
        ]
    return view


def history(session: Session, claim_id: int) -> list[ClaimEvent]:
    return list(session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.seq)))


def claim_of(session: Session, actor: Actor, claim_id: int) -> Claim:
    """The claim, if it is in the actor's county (404 otherwise, as for a claim that does not exist)."""
    return in_county(session.get(Claim, claim_id), actor, f"理赔 #{claim_id} ")


def get_claim(session: Session, actor: Actor, claim_id: int) -> dict[str, Any]:
    """A claim with its full history, oldest step first (recorded in the access log)."""
    claim = claim_of(session, actor, claim_id)
    access_log.note(session, "claim", claim.id, claim.household_id)
    return _for(actor, claim_view(claim, history(session, claim.id)))


def _for(actor: Actor, view: dict[str, Any]) -> dict[str, Any]:
    """A claim's view as the actor may see it: who raised an objection during publicity is a name."""
    if privacy.shows(actor.role, "name"):
        return view
    for event in view.get("history") or []:
        for objection in event["record"].get("objections") or []:
            if isinstance(objection, dict) and objection.get("raised_by"):
                objection["raised_by"] = privacy.mask_name(objection["raised_by"])
    return view


def scoped(actor: Actor, township: Any, village: Any) -> list[Any]:
    """The conditions confining a query to the actor's scope (``Actor.scope``): none without one."""
    parsed = privacy.parse_scope(actor.scope)
    if parsed is None:
        return []
    return [township == parsed[0]] + ([village == parsed[1]] if parsed[1] is not None else [])


def list_claims(
    session: Session,
    actor: Actor,
    *,
    county: str | None = None,
    township: str | None = None,
    village: str | None = None,
    state: str | None = None,
    year: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """The claims of the user's county, filtered, oldest first, one page at a time."""
    county = county or actor.county
    if county != actor.county:
        raise NotAllowed(f"{actor.name} 在县(区) {actor.county} 工作,无权查看县(区) {county} 的理赔")
    conditions = [Claim.county == county, *scoped(actor, Claim.township, Claim.village)]
    for column, value in ((Claim.township, township), (Claim.village, village), (Claim.state, state),
                          (Claim.year, year)):
        if value is not None:
            conditions.append(column == value)
    total = session.scalar(select(func.count()).select_from(Claim).where(*conditions)) or 0
    claims = list(session.scalars(select(Claim).where(*conditions).order_by(Claim.id).limit(limit).offset(offset)))
    access_log.note_many(session, "claim", ((claim.id, claim.household_id) for claim in claims))
    return {"items": [claim_view(claim) for claim in claims], "total": total, "limit": limit, "offset": offset}


def counts_by_state(session: Session, county: str, actor: Actor | None = None) -> dict[str, int]:
    """How many of the county's claims (within the actor's scope) are in each state (states with none are
    left out)."""
    where = [Claim.county == county, *(scoped(actor, Claim.township, Claim.village) if actor else [])]
    rows = session.execute(select(Claim.state, func.count()).where(*where).group_by(Claim.state))
    return {str(state): int(count) for state, count in rows}


def claims_of_household(session: Session, actor: Actor, household_id: str) -> list[dict[str, Any]]:
    """The household's claims in the actor's county, newest first, each with its history."""
    claims = session.scalars(select(Claim).where(Claim.county == actor.county, Claim.household_id == household_id,
                                                 *scoped(actor, Claim.township, Claim.village))
                             .order_by(Claim.id.desc()))
    return [_for(actor, claim_view(claim, history(session, claim.id))) for claim in claims]


def opening_decision(session: Session, view: dict[str, Any]) -> DecisionRecord | None:
    """The stored decision a claim (as viewed) was opened on."""
    return session.get(DecisionRecord, view["decision_id"])


def publicity(session: Session, claim_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For claims that were publicised: the first day, the last day, and the day cross-check may start
    (the pack's publicity days, docs/policy.md section 6), keyed by claim id."""
    if not claim_ids:
        return {}
    rows = session.execute(
        select(ClaimEvent.claim_id, ClaimEvent.payload, DecisionRecord.pack_hash)
        .join(Claim, Claim.id == ClaimEvent.claim_id).join(DecisionRecord, DecisionRecord.id == Claim.decision_id)
        .where(ClaimEvent.claim_id.in_(claim_ids), ClaimEvent.step == "publicised").order_by(ClaimEvent.seq)
    ).all()
    result: dict[int, dict[str, Any]] = {}
    for claim_id, payload, pack_hash in rows:
        start = dt.date.fromisoformat(payload["publicity_start"])
        days = PACKS.by_hash(session, pack_hash).integer("$publicity_days")
        result[int(claim_id)] = {"start": start, "days": days, "end": start + dt.timedelta(days=days - 1),
                                 "cross_check_from": start + dt.timedelta(days=days)}
    return result
