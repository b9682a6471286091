"""Claims along the path of SPEC section 6, and the users who move them.

Each use case takes a Session (committed or rolled back by the caller, all or nothing), the acting user
and, where time matters, ``now`` from the caller's clock. The path itself (states, moves, roles, what each
step records) is data in ``fangpin.claims``; this module applies it to the stored claim:

- a claim's history is appended to its county's chain of claim events and never changed;
- the claim row changes only by a version-checked UPDATE (``WHERE version = :v``; no row → 409);
- filing re-decides the household on the surveyor's verified figures, through the same ``decide_facts``
  as every decision, and stores that decision; the payment never exceeds its amount;
- the county's payments ledger (``payments``, what bulk screening counts as paid before) is read when a
  household applies and when a claim is filed, and a payment is written to it in the transaction that
  moves the claim to ``paid``: nothing is paid twice, whichever path paid first (SPEC 3.4).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangpin.claims import (
    FINAL,
    NEXT,
    OPENERS,
    ROLES,
    Actor,
    Conflict,
    CrossCheck,
    Filing,
    InvalidRequest,
    NotAllowed,
    NotFound,
    PaymentStep,
    Publicity,
    Rejection,
    Survey,
    Unauthenticated,
    in_county,
    local_day,
    moves_from,
    publicity_over,
    roles_for,
    step_role,
)
from fangpin.db import queries
from fangpin.db.chained import append_one, append_rows
from fangpin.db.claims_models import Claim, ClaimEvent, User
from fangpin.db.locks import lock_chain
from fangpin.db.models import DecisionRecord, Payment, Run
from fangpin.deciding import Subject, decide_facts, engine_facts, subject_of
from fangpin.decisions import Decision
from fangpin.facts import CAUSES, Cause, Household
from fangpin.fund import yuan
from fangpin.money import ZERO, from_fen, to_fen
from fangpin.packs.conditions import ENGINE_FIELDS
from fangpin.payouts import fee_on
from fangpin.services.checks import (
    PACKS,
    iso_utc,
    pack_for,
    store_decision,
    validate_household,
)

Step = Survey | Publicity | CrossCheck | Filing | PaymentStep | Rejection
CHAIN = "claim_events"
LEDGER = "payments"


# --- users -------------------------------------------------------------------------------------------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def add_user(session: Session, name: str, role: str, county: str, *, at: dt.datetime | None = None) -> str:
    """Create a user; the bearer token, which is stored only as its sha256 and shown this once."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidRequest("name: between 1 and 100 characters", field="name")
    if role not in ROLES:
        raise InvalidRequest(f"role: {role!r} is not one of {', '.join(ROLES)}", field="role")
    if not re.fullmatch(r"\d{6}", county):
        raise InvalidRequest(f"county: {county!r} is not a six-digit county code", field="county")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"a user named {name!r} exists already")
    token = secrets.token_urlsafe(32)
    session.add(User(name=name, role=role, county=county, token_hash=token_hash(token),
                     created_at=(at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a user named {name!r} exists already") from None
    return token


class _Tokens:
    """Users by token hash, remembered per database: users are never changed or removed, so a token once
    found stays valid, and a request costs no lookup."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], Actor] = {}

    def known(self, session: Session, token: str) -> Actor | None:
        """The user of a token already seen, without asking the database."""
        return self._known.get((str(session.get_bind().engine.url), token_hash(token)))

    def actor(self, session: Session, token: str) -> Actor:
        digest = token_hash(token)
        key = (str(session.get_bind().engine.url), digest)
        with self._lock:
            known = self._known.get(key)
        if known is not None:
            return known
        user = session.scalars(select(User).where(User.token_hash == digest)).first()
        if user is None:
            raise Unauthenticated("the bearer token belongs to no user")
        actor = Actor(name=user.name, role=user.role, county=user.county)  # type: ignore[arg-type]
        with self._lock:
            self._known[key] = actor
        return actor


TOKENS = _Tokens()


def authenticate(session: Session, token: str | None) -> Actor:
    if not token:
        raise Unauthenticated("send a bearer token: Authorization: Bearer <token> (fangpin users add)")
    return TOKENS.actor(session, token)


# --- reading claims ----------------------------------------------------------------------------------

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


def _history(session: Session, claim_id: int) -> list[ClaimEvent]:
    return list(session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.seq)))


def _claim(session: Session, actor: Actor, claim_id: int) -> Claim:
    return in_county(session.get(Claim, claim_id), actor, f"claim {claim_id}")


def get_claim(session: Session, actor: Actor, claim_id: int) -> dict[str, Any]:
    """A claim with its full history, oldest step first."""
    claim = _claim(session, actor, claim_id)
    return claim_view(claim, _history(session, claim.id))


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
        raise NotAllowed(f"{actor.name} works in county {actor.county}, not {county}")
    conditions = [Claim.county == county]
    for column, value in ((Claim.township, township), (Claim.village, village), (Claim.state, state),
                          (Claim.year, year)):
        if value is not None:
            conditions.append(column == value)
    total = session.scalar(select(func.count()).select_from(Claim).where(*conditions)) or 0
    claims = session.scalars(select(Claim).where(*conditions).order_by(Claim.id).limit(limit).offset(offset))
    return {"items": [claim_view(claim) for claim in claims], "total": total, "limit": limit, "offset": offset}


# --- opening claims ----------------------------------------------------------------------------------

def _may_open(actor: Actor, opened_by: str, county: str) -> None:
    if actor.role not in OPENERS[opened_by]:  # type: ignore[index]
        roles = " or ".join(sorted(OPENERS[opened_by]))  # type: ignore[index]
        raise NotAllowed(f"a user with role {actor.role} may not open a claim by {opened_by} (the {roles} does)")
    if county != actor.county:
        raise NotAllowed(f"county {county} is not {actor.name}'s county ({actor.county})")


def _open_households(session: Session, county: str, year: int) -> set[str]:
    return set(session.scalars(select(Claim.household_id).where(
        Claim.county == county, Claim.year == year, Claim.state.not_in(FINAL))))


def _append(session: Session, county: str, events: list[dict[str, Any]]) -> None:
    append_rows(session, ClaimEvent, county, events)


def _event(claim: Claim, step: str, from_state: str | None, actor: Actor, at: dt.datetime,
           record: dict[str, Any]) -> dict[str, Any]:
    return {"claim_id": claim.id, "county": claim.county, "step": step, "from_state": from_state, "who": actor.name,
            "role": actor.role, "at": at.astimezone(dt.UTC), "payload": record}


def open_application(session: Session, actor: Actor, household: Household, *, now: dt.datetime,
                     pack_dir: Path | None = None) -> dict[str, Any]:
    """A household applies (申请式受理): check it, store the decision, open a claim on it. Only a decision
    that pays opens a claim; one household has one open claim per year at a time.

    Paid before, per cause, is the larger of the document's ``paid_this_year`` and what the payments ledger
    counts for the household this year (screening runs, paid claims): the applicant's own figure never
    undercuts what the fund counted. The decision is made and stored with that figure, so it replays."""
    _may_open(actor, "application", household.county)
    validate_household(household)
    pack = pack_for(household.year, pack_dir)
    counted = queries.household_paid(session, household.county, household.year, household.household_id)
    paid_before = {cause: max(household.paid_this_year.of(cause), from_fen(counted[cause])) for cause in CAUSES}
    decision = decide_facts(subject_of(household), engine_facts(household, pack), paid_before, pack)
    if decision.outcome != "pay":
        raise Conflict(f"the household is owed nothing (outcome {decision.outcome}, payout "
                       f"{yuan(to_fen(decision.payout))}){_counted_already(session, household, counted)}: no "
                       "claim opened; POST /v1/checks to keep the decision")
    PACKS.ensure_stored(session, pack)
    lock_chain(session, CHAIN, household.county)
    if household.household_id in _open_households(session, household.county, household.year):
        raise Conflict(f"household {household.household_id} has an open claim for {household.year} already")
    decision_id = store_decision(session, decision, paid_before,
                                 document=household.model_dump(mode="json", exclude_none=True), at=now)
    claim = _new_claim(household.county, household.township, household.village, household.household_id,
                       household.year, "application", decision_id, now)
    session.add(claim)
    session.flush()
    _append(session, claim.county, [_event(claim, "opened", None, actor, now, _opened_record(claim, decision))])
    return claim_view(claim, _history(session, claim.id))


def _counted_already(session: Session, household: Household, counted: dict[str, int]) -> str:
    """What the ledger counted for the household this year, and who paid it: '' when nothing."""
    if not any(counted.values()):
        return ""
    entries = queries.household_payments(session, household.county, household.year, household.household_id)
    sources = _sources(session, entries)
    parts = [f"{yuan(counted[cause])} for {cause} ({' / '.join(sources[cause])})" for cause in CAUSES
             if counted[cause]]
    return f"; the fund counted {', '.join(parts)} this year already"


def _sources(session: Session, entries: list[Payment]) -> dict[str, list[str]]:
    """Per cause, who wrote the ledger entries: a screening run, or the claim whose payment it was."""
    decision_ids = {entry.decision_id for entry in entries if entry.run_id is None}
    claims = dict(session.execute(select(Claim.filing_decision_id, Claim.id).where(
        Claim.filing_decision_id.in_(decision_ids))).tuples().all()) if decision_ids else {}
    sources: dict[str, list[str]] = {cause: [] for cause in CAUSES}
    for entry in entries:
        name = (f"screening run {entry.run_id}" if entry.run_id is not None
                else f"claim {claims[entry.decision_id]}" if entry.decision_id in claims
                else f"decision {entry.decision_id}")
        if name not in sources[entry.cause]:
            sources[entry.cause].append(name)
    return sources


def _new_claim(county: str, township: str | None, village: str | None, household_id: str, year: int,
               opened_by: str, decision_id: int, now: dt.datetime) -> Claim:
    return Claim(county=county, township=township, village=village, household_id=household_id, year=year,
                 state="opened", version=1, opened_by=opened_by, decision_id=decision_id,
                 created_at=now.astimezone(dt.UTC))


def _opened_record(claim: Claim, decision: Decision | DecisionRecord) -> dict[str, Any]:
    payout = decision.payout if isinstance(decision.payout, int) else to_fen(decision.payout)
    return {"opened_by": claim.opened_by, "decision_id": claim.decision_id, "outcome": decision.outcome,
            "payout": yuan(payout)}


def open_from_screening(session: Session, actor: Actor, run_id: str, *, now: dt.datetime) -> dict[str, Any]:
    """Open a claim for every `pay` decision of a screening run (自上而下) that has none yet; households
    with an open claim for the year are skipped and listed."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no screening run {run_id!r}")
    _may_open(actor, "screening", run.county)
    lock_chain(session, CHAIN, run.county)
    decisions = list(session.scalars(select(DecisionRecord).where(
        DecisionRecord.run_id == run_id, DecisionRecord.outcome == "pay").order_by(DecisionRecord.household_id)))
    already = set(session.scalars(select(Claim.decision_id).where(
        Claim.decision_id.in_(select(DecisionRecord.id).where(DecisionRecord.run_id == run_id)))))
    busy = _open_households(session, run.county, run.year)
    claims: list[tuple[Claim, DecisionRecord]] = []
    skipped = []
    for record in decisions:
        if record.id in already:
            skipped.append({"household_id": record.household_id, "decision_id": record.id,
                            "reason": "a claim was opened on this decision already"})
        elif record.household_id in busy:
            skipped.append({"household_id": record.household_id, "decision_id": record.id,
                            "reason": f"the household has an open claim for {run.year}"})
        else:
            claims.append((_new_claim(record.county, record.township, record.village, record.household_id,
                                      record.year, "screening", record.id, now), record))
            busy.add(record.household_id)
    session.add_all([claim for claim, _ in claims])
    session.flush()
    _append(session, run.county, [_event(claim, "opened", None, actor, now, _opened_record(claim, record))
                                  for claim, record in claims])
    return {"run_id": run_id, "opened": [claim_view(claim) for claim, _ in claims], "skipped": skipped}


# --- moving claims along the path --------------------------------------------------------------------

def transition(session: Session, actor: Actor, claim_id: int, step: Step, *, now: dt.datetime) -> dict[str, Any]:
    """Move a claim one step along the path, recording what the step records; 403 for a role or county
    that may not, 409 for a stale version, a skipped step or publicity not yet over. Nothing changes
    unless everything holds."""
    claim = _claim(session, actor, claim_id)
    if actor.role not in step_role(step.to):
        raise NotAllowed(f"a user with role {actor.role} never moves a claim to {step.to}")
    lock_chain(session, CHAIN, claim.county)
    session.refresh(claim)  # read again under the lock
    if step.version != claim.version:
        raise Conflict(f"claim {claim.id} is at version {claim.version}, not {step.version}: someone moved it "
                       "meanwhile; read it again")
    if claim.state in FINAL:
        raise Conflict(f"claim {claim.id} is {claim.state}: nothing follows")
    allowed = roles_for(claim.state, step.to)
    if not allowed:
        expected = NEXT[claim.state]  # type: ignore[index]
        raise Conflict(f"claim {claim.id} is {claim.state}: the next step is {expected}, not {step.to}")
    if actor.role not in allowed:
        raise NotAllowed(f"a user with role {actor.role} may not move a claim that is {claim.state} to {step.to} "
                         f"({' or '.join(sorted(allowed))} may)")
    history = _history(session, claim.id)
    today = local_day(now)
    values: dict[str, Any] = {}
    record = step.record()
    if isinstance(step, Survey):
        _not_after(step.visit_date, today, "visit_date")
        _not_before(step.visit_date, local_day(_aware(claim.created_at)), "visit_date", "the claim was opened")
    elif isinstance(step, Publicity):
        _not_after(step.publicity_start, today, "publicity_start")
        visit = dt.date.fromisoformat(_last(history, "surveyed")["visit_date"])
        _not_before(step.publicity_start, visit, "publicity_start", "the survey visit")
    elif isinstance(step, CrossCheck):
        publicity = _last(history, "publicised")
        if any(objection["upheld"] for objection in publicity.get("objections", [])):
            raise Conflict("an objection was upheld during publicity: the claim cannot be cross-checked")
        start = dt.date.fromisoformat(publicity["publicity_start"])
        days = PACKS.by_hash(session, _opening(session, claim).pack_hash).integer("$publicity_days")
        first = publicity_over(start, days, today)
        if first is not None:
            raise Conflict(f"publicity began on {start} and lasts {days} days: cross-check may start on {first}, "
                           f"not on {today}")
    elif isinstance(step, Filing):
        decision, paid_before = _redecide(session, claim, _last(history, "surveyed")["verified"])
        if decision.outcome != "pay":
            raise Conflict(f"re-decided on the verified figures, the household is owed nothing (outcome "
                           f"{decision.outcome}, payout {yuan(to_fen(decision.payout))}): reject the claim with "
                           "this reason")
        decision_id = store_decision(session, decision, paid_before, at=now)
        values = {"filing_decision_id": decision_id, "amount_decided": to_fen(decision.payout)}
        record.update({"decision_id": decision_id, "outcome": decision.outcome,
                       "amount_decided": yuan(to_fen(decision.payout)),
                       "causes": {cause: yuan(to_fen(decision.cause(cause).increment)) for cause in CAUSES}})
    elif isinstance(step, PaymentStep):
        values, extra, filing, shares = _payment(session, claim, step, today, history)
        record.update(extra)
        _to_ledger(session, claim, filing, shares, now)
    elif isinstance(step, Rejection):
        record["step"] = claim.state
    changed = session.execute(
        update(Claim).where(Claim.id == claim.id, Claim.version == step.version)
        .values(state=step.to, version=Claim.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"claim {claim.id} was moved meanwhile: read it again")
    _append(session, claim.county, [_event(claim, step.to, claim.state, actor, now, record)])
    session.refresh(claim)
    return claim_view(claim, _history(session, claim.id))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _not_after(day: dt.date, today: dt.date, field: str) -> None:
    if day > today:
        raise InvalidRequest(f"{field}: {day} is in the future (today is {today})", field=field)


def _not_before(day: dt.date, earliest: dt.date, field: str, what: str) -> None:
    if day < earliest:
        raise InvalidRequest(f"{field}: {day} is before {what} ({earliest})", field=field)


def _last(history: list[ClaimEvent], step: str) -> dict[str, Any]:
    for event in reversed(history):
        if event.step == step:
            return event.payload
    raise Conflict(f"the claim's history has no {step} step")  # unreachable along the path


def _opening(session: Session, claim: Claim) -> DecisionRecord:
    record = session.get(DecisionRecord, claim.decision_id)
    assert record is not None  # a foreign key
    return record


def _paid_by_other_claims(session: Session, claim: Claim) -> dict[Cause, Decimal]:
    """What other claims of the household paid this year, per cause: never paid twice."""
    rows = session.scalars(
        select(ClaimEvent.payload).join(Claim, Claim.id == ClaimEvent.claim_id).where(
            Claim.county == claim.county, Claim.year == claim.year, Claim.household_id == claim.household_id,
            Claim.id != claim.id, ClaimEvent.step == "paid")
    )
    paid: dict[Cause, Decimal] = dict.fromkeys(CAUSES, ZERO)
    for payload in rows:
        for cause in CAUSES:
            paid[cause] += Decimal(payload["causes"][cause])
    return paid


def _redecide(session: Session, claim: Claim, verified: dict[str, Any]) -> tuple[Decision, dict[Cause, Decimal]]:
    """The opening decision's facts with the surveyor's verified figures, decided under the pack that made
    the opening decision; and what counts as paid before: the most of the opening decision's and what the
    household's other claims of the year paid; for an application, also what the payments ledger counts for
    the household this year. A screening run that counted the household after an application opened did
    not know of it (an application's decision is not in the ledger until paid): its claim pays that, this
    one does not pay it again. A screening claim's own run is in the ledger, and later runs counted only
    increments over it, so the ledger adds nothing there that the opening decision did not count."""
    opening = _opening(session, claim)
    pack = PACKS.by_hash(session, opening.pack_hash)
    facts: dict[str, int | str] = {name: getattr(opening, name) for name in ENGINE_FIELDS}
    for cause in CAUSES:
        facts[f"{cause}_base"] = to_fen(Decimal(verified[cause]))
    if verified.get("per_capita_income") is not None:
        facts["per_capita_income"] = to_fen(Decimal(verified["per_capita_income"]))
    earlier = _paid_by_other_claims(session, claim)
    counted = (queries.household_paid(session, claim.county, claim.year, claim.household_id)
               if claim.opened_by == "application" else dict.fromkeys(CAUSES, 0))
    paid_before: dict[Cause, Decimal] = {
        cause: max(from_fen(getattr(opening, f"{cause}_paid_before")), earlier[cause], from_fen(counted[cause]))
        for cause in CAUSES
    }
    subject = Subject(claim.household_id, claim.year, claim.county, claim.township, claim.village)
    return decide_facts(subject, facts, paid_before, pack), paid_before


def _payment(session: Session, claim: Claim, step: PaymentStep, today: dt.date, history: list[ClaimEvent]
             ) -> tuple[dict[str, Any], dict[str, Any], DecisionRecord, dict[Cause, int]]:
    """The claim's new values and the step's record for a payment, the filing decision, and the payment's
    share of each cause in fen."""
    assert claim.amount_decided is not None and claim.filing_decision_id is not None
    amount = to_fen(step.amount)
    if amount > claim.amount_decided:
        raise InvalidRequest(f"amount: {yuan(amount)} exceeds the {yuan(claim.amount_decided)} decided at filing",
                             field="amount")
    _not_after(step.paid_on, today, "paid_on")
    filed_at = next(event.at for event in reversed(history) if event.step == "filed")
    _not_before(step.paid_on, local_day(_aware(filed_at)), "paid_on", "the claim was filed")
    filing = session.get(DecisionRecord, claim.filing_decision_id)
    assert filing is not None
    left, shares = amount, {}
    for cause in CAUSES:  # the payment covers the causes in order, each up to its amount decided
        shares[cause] = min(left, int(getattr(filing, cause)))
        left -= shares[cause]
    pack = PACKS.by_hash(session, filing.pack_hash)
    fee = to_fen(fee_on(from_fen(amount), pack.rate(pack.rules_file.fee.rate)))
    causes = {cause: yuan(share) for cause, share in shares.items()}
    return {"amount_paid": amount, "fee": fee}, {"causes": causes, "fee": yuan(fee)}, filing, shares


def _to_ledger(session: Session, claim: Claim, filing: DecisionRecord, shares: dict[Cause, int],
               now: dt.datetime) -> None:
    """Append the payment to the county's payments ledger, one entry per cause it adds to, in the claim's
    transaction: what bulk screening reads as paid before.

    An application claim adds its share of each cause. A screening claim's run wrote its decision's amounts
    already, so the claim adds only what it paid above them (verified figures higher); a claim that paid
    less than its run's amount leaves the ledger at the run's amount (conservative: the ledger's sums only
    grow, never paid twice). Each entry's ``paid_before`` is the ledger's sum before it, so a screening run
    that paid the same cause from the same prior total meanwhile collides on the unique key: 409.

    For an application, a payment the ledger did not count at filing (counted since by a screening run)
    would be paid twice: 409, nothing written; the claim is rejected and the run's claim pays it."""
    lock_chain(session, LEDGER, claim.county)
    entries = queries.household_payments(session, claim.county, claim.year, claim.household_id)
    counted: dict[str, int] = dict.fromkeys(CAUSES, 0)  # the ledger's sums: each new entry's paid_before
    for entry in entries:
        counted[entry.cause] += entry.amount
    opening = _opening(session, claim) if claim.opened_by == "screening" else None
    rows: list[dict[str, Any]] = []
    for cause in CAUSES:
        amount = shares[cause] - (int(getattr(opening, cause)) if opening is not None else 0)
        if amount <= 0:
            continue
        filed_on = int(getattr(filing, f"{cause}_paid_before"))
        if opening is None and counted[cause] > filed_on:  # an application: its decision is not in the ledger
            sources = " / ".join(_sources(session, entries)[cause])
            raise Conflict(f"claim {claim.id}: the fund now counts {yuan(counted[cause])} for {cause} for household "
                           f"{claim.household_id} in {claim.year} ({sources}), more than the {yuan(filed_on)} "
                           "the claim was filed on: paid meanwhile, and paying this claim would pay it twice; "
                           "reject the claim: the claim of what counted it pays what is still owed")
        rows.append({"county": claim.county, "year": claim.year, "household_id": claim.household_id,
                     "cause": cause, "paid_before": counted[cause], "amount": amount, "decision_id": filing.id,
                     "run_id": None, "recorded_at": now.astimezone(dt.UTC)})
    try:
        for row in rows:
            append_one(session, Payment, claim.county, row)
    except IntegrityError:
        raise Conflict(f"claim {claim.id}: a payment for household {claim.household_id} from the same prior total "
                       "was recorded meanwhile (a screening run paid meanwhile); nothing was stored: read the "
                       "claim again") from None

