"""Claims along the path of docs/policy.md section 6, and the users who move them.

Each use case takes a Session (committed or rolled back by the caller, all or nothing), the acting user
and, where time matters, ``now`` from the caller's clock. The path itself (states, moves, roles, what each
step records) is data in ``fangpin.claims``; this module applies it to the stored claim:

- a claim's history is appended to its county's chain of claim events and never changed;
- the claim row changes only by a version-checked UPDATE (``WHERE version = :v``; no row → 409);
- filing re-decides the household on the surveyor's verified figures, through the same ``decide_facts``
  as every decision, and stores that decision; the payment never exceeds its amount;
- the county's payments ledger (``payments``, what bulk screening counts as paid before) is read when a
  household applies and when a claim is filed, and a payment is written to it in the transaction that
  moves the claim to ``paid``: nothing is paid twice, whichever path paid first (docs/policy.md 3.4).

Length: over 300 lines because every move of the path shares the version-checked update, the chain append
and the ledger checks kept here; users, views and payments are already their own modules.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fangpin import privacy
from fangpin.claims import (
    FINAL,
    NEXT,
    OPENERS,
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
    local_day,
    publicity_over,
    roles_for,
    step_role,
)
from fangpin.db import decision_causes
from fangpin.db.chained import append_one, append_rows
from fangpin.db.claims_models import Claim, ClaimEvent
from fangpin.db.locks import lock_chain
from fangpin.db.models import DecisionRecord, Run
from fangpin.deciding import decide_facts, engine_facts, subject_of
from fangpin.decisions import Decision
from fangpin.facts import Household
from fangpin.fund import yuan
from fangpin.labels import OPENED_BY, OUTCOMES, ROLES, STATES, STEPS, field_label, label, roles_text
from fangpin.money import ZERO, fen_grouped, from_fen, to_fen
from fangpin.services import payments, replay
from fangpin.services.checks import (
    PACKS,
    pack_for,
    store_decision,
    validate_household,
)
from fangpin.services.claim_views import claim_of, claim_view, history
from fangpin.services.users import add_user, authenticate  # noqa: F401  (their home before 0.2; scripts import them here)

Step = Survey | Publicity | CrossCheck | Filing | PaymentStep | Rejection
CHAIN = "claim_events"


# --- opening claims ----------------------------------------------------------------------------------

def _may_open(actor: Actor, opened_by: str, county: str) -> None:
    if actor.role not in OPENERS[opened_by]:  # type: ignore[index]
        roles = roles_text(OPENERS[opened_by])  # type: ignore[index]
        raise NotAllowed(f"{label(ROLES, actor.role)}不能以“{label(OPENED_BY, opened_by)}”方式立案(由{roles}立案)")
    if county != actor.county:
        raise NotAllowed(f"县(区) {county} 不是 {actor.name} 所在的县(区)({actor.county}),无权立案")


def _open_households(session: Session, county: str, year: int) -> set[str]:
    return set(session.scalars(select(Claim.household_id).where(
        Claim.county == county, Claim.year == year, Claim.state.not_in(FINAL))))


def _append(session: Session, county: str, events: list[dict[str, Any]]) -> None:
    if len(events) == 1:
        append_one(session, ClaimEvent, county, events[0])
    else:
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
    if not privacy.in_scope(actor.scope, household.township, household.village):
        raise NotAllowed(f"此户不在 {actor.name} 负责的范围({actor.scope})内,无权为其立案")
    validate_household(household)
    pack = pack_for(household.year, pack_dir)
    counted = payments.paid_so_far(session, household.county, household.year, household.household_id)
    paid_before = {cause: max(household.paid_of(cause), from_fen(counted.get(cause, 0))) for cause in pack.cause_ids}
    decision = decide_facts(subject_of(household), engine_facts(household, pack), paid_before, pack)
    if decision.outcome != "pay":
        already = payments.counted_already(session, household, counted, pack.people_labels.causes)
        raise Conflict(f"此户不应赔付(判定结果:{label(OUTCOMES, decision.outcome)},赔付 "
                       f"{fen_grouped(to_fen(decision.payout))} 元){already},未立案;如需保留判定,请用单户核查")
    PACKS.ensure_stored(session, pack)
    lock_chain(session, CHAIN, household.county)
    if household.household_id in _open_households(session, household.county, household.year):
        raise Conflict(f"户 {household.household_id} 在 {household.year} 年度已有一件未办结的理赔:"
                       "请在理赔看板中办理那一件")
    decision_id = store_decision(session, decision, paid_before,
                                 document=household.model_dump(mode="json", exclude_none=True), at=now)
    claim = _new_claim(household.county, household.township, household.village, household.household_id,
                       household.year, "application", decision_id, now)
    session.add(claim)
    session.flush()
    _append(session, claim.county, [_event(claim, "opened", None, actor, now, _opened_record(claim, decision))])
    return claim_view(claim, history(session, claim.id))


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
        raise NotFound(f"没有筛查运行 {run_id}:请检查运行编号")
    _may_open(actor, "screening", run.county)
    if actor.scope:
        raise NotAllowed(f"{actor.name} 只负责 {actor.scope}:一次筛查运行覆盖全县,须由全县范围的用户立案")
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
                            "reason": "已按此判定立案"})
        elif record.household_id in busy:
            skipped.append({"household_id": record.household_id, "decision_id": record.id,
                            "reason": f"此户在 {run.year} 年度已有未办结的理赔"})
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
    claim = claim_of(session, actor, claim_id)
    if actor.role not in step_role(step.to):
        raise NotAllowed(f"{label(ROLES, actor.role)}不办理“{label(STEPS, step.to)}”这一步:"
                         f"由{roles_text(step_role(step.to))}办理")
    lock_chain(session, CHAIN, claim.county)
    session.refresh(claim)  # read again under the lock
    if step.version != claim.version:
        raise Conflict(f"理赔 #{claim.id} 已被他人办理(版本 {claim.version},您看到的是版本 {step.version}):"
                       "请刷新页面后再办理")
    if claim.state in FINAL:
        raise Conflict(f"理赔 #{claim.id} {label(STATES, claim.state)},已办结:不能再办理")
    allowed = roles_for(claim.state, step.to)
    if not allowed:
        expected = NEXT[claim.state]  # type: ignore[index]
        raise Conflict(f"理赔 #{claim.id} {label(STATES, claim.state)}:下一步是“{label(STEPS, expected)}”,"
                       f"不是“{label(STEPS, step.to)}”")
    if actor.role not in allowed:
        raise NotAllowed(f"理赔 #{claim.id} {label(STATES, claim.state)}:“{label(STEPS, step.to)}”由"
                         f"{roles_text(allowed)}办理,{label(ROLES, actor.role)}不能办理")
    events = history(session, claim.id)
    today = local_day(now)
    values: dict[str, Any] = {}
    record = step.record()
    if isinstance(step, Survey):
        _not_after(step.visit_date, today, "visit_date")
        _not_before(step.visit_date, local_day(_aware(claim.created_at)), "visit_date", "立案日期")
        opening = _opening(session, claim)
        names = PACKS.by_hash(session, opening.pack_hash).people_labels.causes
        _verified_causes(step.verified.bases(names), list(decision_causes.of(opening.bases)), names)
    elif isinstance(step, Publicity):
        _not_after(step.publicity_start, today, "publicity_start")
        visit = dt.date.fromisoformat(_last(events, "surveyed")["visit_date"])
        _not_before(step.publicity_start, visit, "publicity_start", "入户查勘日期")
    elif isinstance(step, CrossCheck):
        publicity = _last(events, "publicised")
        if any(objection["upheld"] for objection in publicity.get("objections", [])):
            raise Conflict("公示期间有异议成立:此理赔不能进入部门信息比对,请驳回并写明理由")
        start = dt.date.fromisoformat(publicity["publicity_start"])
        days = PACKS.by_hash(session, _opening(session, claim).pack_hash).integer("$publicity_days")
        first = publicity_over(start, days, today)
        if first is not None:
            raise Conflict(f"公示自 {start} 开始,为期 {days} 天:{first} 起才能进行部门信息比对(今天是 {today}),"
                           "请到期后再办理")
    elif isinstance(step, Filing):
        decision, paid_before = _redecide(session, claim, _last(events, "surveyed")["verified"])
        if decision.outcome != "pay":
            raise Conflict(f"按核实金额重新判定,此户不应赔付(判定结果:{label(OUTCOMES, decision.outcome)},"
                           f"赔付 {fen_grouped(to_fen(decision.payout))} 元):"
                           "请驳回此理赔并写明这一理由")
        decision_id = store_decision(session, decision, paid_before, at=now)
        values = {"filing_decision_id": decision_id, "amount_decided": to_fen(decision.payout)}
        record.update({"decision_id": decision_id, "outcome": decision.outcome,
                       "amount_decided": yuan(to_fen(decision.payout)),
                       "causes": {c.cause: yuan(to_fen(c.increment)) for c in decision.causes}})
    elif isinstance(step, PaymentStep):
        payments.not_the_surveyor(claim, events, actor)
        payments.within_decided(claim, step.amount)
        _not_after(step.paid_on, today, "paid_on")
        filed_at = next(event.at for event in reversed(events) if event.step == "filed")
        _not_before(step.paid_on, local_day(_aware(filed_at)), "paid_on", "备案日期")
        values, extra, filing, shares = payments.shares(session, claim, step.amount)
        record.update(extra)
        payments.to_ledger(session, claim, filing, shares, now)
    elif isinstance(step, Rejection):
        record["step"] = claim.state
    changed = session.execute(
        update(Claim).where(Claim.id == claim.id, Claim.version == step.version)
        .values(state=step.to, version=Claim.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"理赔 #{claim.id} 刚被他人办理:请刷新页面后再办理")
    _append(session, claim.county, [_event(claim, step.to, claim.state, actor, now, record)])
    session.refresh(claim)
    return claim_view(claim, history(session, claim.id))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _not_after(day: dt.date, today: dt.date, field: str) -> None:
    if day > today:
        raise InvalidRequest(f"{field_label(field)}:{day} 晚于今天({today}),请填写已发生的日期", field=field)


def _not_before(day: dt.date, earliest: dt.date, field: str, what: str) -> None:
    if day < earliest:
        raise InvalidRequest(f"{field_label(field)}:{day} 早于{what}({earliest}),请核对后重填", field=field)


def _last(history: list[ClaimEvent], step: str) -> dict[str, Any]:
    for event in reversed(history):
        if event.step == step:
            return event.payload
    raise Conflict(f"理赔记录中没有“{label(STEPS, step)}”这一步")  # unreachable along the path


def _opening(session: Session, claim: Claim) -> DecisionRecord:
    record = session.get(DecisionRecord, claim.decision_id)
    assert record is not None  # a foreign key
    return record


def _verified_causes(verified: dict[str, Decimal], causes: list[str], names: dict[str, str]) -> None:
    """The surveyor verifies a base for every cause of the pack that opened the claim, and for no other;
    ``names`` are that pack's labels of its causes."""
    listed = "、".join(names.get(cause, cause) for cause in causes)
    for cause in causes:
        if cause not in verified:
            raise InvalidRequest(f"{field_label(f'verified.{cause}', names)}:必须填写(此理赔的救助项目:{listed})",
                                 field=f"verified.{cause}")
    for cause in verified:
        if cause not in causes:
            raise InvalidRequest(f"{field_label(f'verified.{cause}', names)}:不是作出此判定的规则包的救助项目"
                                 f"(应为:{listed})", field=f"verified.{cause}")


def _redecide(session: Session, claim: Claim, verified: dict[str, Any]) -> tuple[Decision, dict[str, Decimal]]:
    """The opening decision's facts with the surveyor's verified figures, decided under the pack that made
    the opening decision; and what counts as paid before: the most of the opening decision's and what the
    household's other claims of the year paid; for an application, also what the payments ledger counts for
    the household this year. A screening run that counted the household after an application opened did
    not know of it (an application's decision is not in the ledger until paid): its claim pays that, this
    one does not pay it again. A screening claim's own run is in the ledger, and later runs counted only
    increments over it, so the ledger adds nothing there that the opening decision did not count."""
    opening = _opening(session, claim)
    facts = replay.stored_facts(opening)
    causes = list(decision_causes.of(opening.bases))
    for cause in causes:
        facts[f"{cause}_base"] = to_fen(Decimal(verified[cause]))
    if verified.get("per_capita_income") is not None:
        facts["per_capita_income"] = to_fen(Decimal(verified["per_capita_income"]))
    earlier = payments.paid_by_other_claims(session, claim)
    counted = (payments.paid_so_far(session, claim.county, claim.year, claim.household_id)
               if claim.opened_by == "application" else dict.fromkeys(causes, 0))
    opened_on = decision_causes.of(opening.paid_before)
    paid_before: dict[str, Decimal] = {
        cause: max(from_fen(opened_on.get(cause, 0)), earlier.get(cause, ZERO), from_fen(counted.get(cause, 0)))
        for cause in causes
    }
    return replay.redecide(session, opening, facts=facts, paid_before=paid_before), paid_before



