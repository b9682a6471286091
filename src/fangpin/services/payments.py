"""The county's payments ledger (``payments``): what bulk screening counts as paid before. It is read when a
household applies and when a claim is filed, and written in the transaction that moves a claim to ``paid``,
so nothing is paid twice, whichever path paid first (docs/policy.md 3.4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangpin.claims import Actor, Conflict, InvalidRequest, NotAllowed
from fangpin.db import decision_causes, queries
from fangpin.db.chained import append_one
from fangpin.db.claims_models import Claim, ClaimEvent
from fangpin.db.locks import lock_chain
from fangpin.db.models import DecisionRecord, Payment
from fangpin.facts import Household
from fangpin.fund import yuan
from fangpin.labels import field_label
from fangpin.money import ZERO, fen_grouped, from_fen, to_fen
from fangpin.payouts import fee_on
from fangpin.services.checks import PACKS

LEDGER = "payments"


def paid_so_far(session: Session, county: str, year: int, household_id: str) -> dict[str, int]:
    """What the ledger counts as paid to the household this year, per cause, in fen."""
    return queries.household_paid(session, county, year, household_id, ())


def counted_already(session: Session, household: Household, counted: dict[str, int],
                    names: dict[str, str] | None = None) -> str:
    """What the ledger counted for the household this year, and who paid it: '' when nothing. ``names``: the
    deciding pack's labels of its causes."""
    if not any(counted.values()):
        return ""
    entries = queries.household_payments(session, household.county, household.year, household.household_id)
    sources = payers(session, entries)
    parts = [f"{(names or {}).get(cause, cause)} {fen_grouped(amount)} 元({'、'.join(sources.get(cause, []))})"
             for cause, amount in counted.items() if amount]
    return f";本年度已赔付:{','.join(parts)}"


def payers(session: Session, entries: list[Payment]) -> dict[str, list[str]]:
    """Per cause, who wrote the ledger entries: a screening run, or the claim whose payment it was."""
    decision_ids = {entry.decision_id for entry in entries if entry.run_id is None}
    claims = dict(session.execute(select(Claim.filing_decision_id, Claim.id).where(
        Claim.filing_decision_id.in_(decision_ids))).tuples().all()) if decision_ids else {}
    sources: dict[str, list[str]] = {}
    for entry in entries:
        name = (f"筛查运行 {entry.run_id}" if entry.run_id is not None
                else f"理赔 #{claims[entry.decision_id]}" if entry.decision_id in claims
                else f"判定 #{entry.decision_id}")
        if name not in sources.setdefault(entry.cause, []):
            sources[entry.cause].append(name)
    return sources


def to_ledger(session: Session, claim: Claim, filing: DecisionRecord, shares: dict[str, int],
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
    counted: dict[str, int] = dict.fromkeys(shares, 0)  # the ledger's sums: each new entry's paid_before
    for entry in entries:
        counted[entry.cause] = counted.get(entry.cause, 0) + entry.amount
    opening = session.get(DecisionRecord, claim.decision_id) if claim.opened_by == "screening" else None
    opened_amounts = decision_causes.of(opening.amounts) if opening is not None else {}
    filed_paid = decision_causes.of(filing.paid_before)
    rows: list[dict[str, Any]] = []
    for cause in shares:
        amount = shares[cause] - opened_amounts.get(cause, 0)
        if amount <= 0:
            continue
        filed_on = filed_paid.get(cause, 0)
        if opening is None and counted[cause] > filed_on:  # an application: its decision is not in the ledger
            sources = "、".join(payers(session, entries)[cause])
            named = PACKS.by_hash(session, filing.pack_hash).people_labels.causes.get(cause, cause)
            raise Conflict(f"理赔 #{claim.id}:户 {claim.household_id} {claim.year} 年度的{named}项目现已赔付 "
                           f"{fen_grouped(counted[cause])} 元({sources}),多于备案时的 {fen_grouped(filed_on)} 元:"
                           "备案后已由别处赔付,再支付此理赔会重复赔付。请驳回此理赔,仍欠的部分由已赔付的那一处补足")
        rows.append({"county": claim.county, "year": claim.year, "household_id": claim.household_id,
                     "cause": cause, "paid_before": counted[cause], "amount": amount, "decision_id": filing.id,
                     "run_id": None, "recorded_at": now.astimezone(dt.UTC)})
    try:
        for row in rows:
            append_one(session, Payment, claim.county, row)
    except IntegrityError:
        raise Conflict(f"理赔 #{claim.id}:户 {claim.household_id} 刚有一笔赔付入账(同时进行的筛查运行已赔付),"
                       "本次没有保存任何内容:请刷新页面后再办理") from None



def paid_by_other_claims(session: Session, claim: Claim) -> dict[str, Decimal]:
    """What other claims of the household paid this year, per cause: never paid twice."""
    rows = session.scalars(
        select(ClaimEvent.payload).join(Claim, Claim.id == ClaimEvent.claim_id).where(
            Claim.county == claim.county, Claim.year == claim.year, Claim.household_id == claim.household_id,
            Claim.id != claim.id, ClaimEvent.step == "paid")
    )
    paid: dict[str, Decimal] = {}
    for payload in rows:
        for cause, amount in payload["causes"].items():
            paid[cause] = paid.get(cause, ZERO) + Decimal(amount)
    return paid


def not_the_surveyor(claim: Claim, events: list[ClaimEvent], actor: Actor) -> None:
    """Separation of duties: the user who surveyed a claim (入户查勘) never also marks it paid; another user of
    the insurer must (403)."""
    surveyors = {event.who for event in events if event.step == "surveyed"}
    if actor.name in surveyors:
        raise NotAllowed(f"{actor.name} 办理了理赔 #{claim.id} 的入户查勘,不能再登记它的支付:"
                         "请由保险公司的另一位用户登记支付")


def within_decided(claim: Claim, amount: Decimal) -> None:
    """A payment never exceeds the amount decided at filing."""
    assert claim.amount_decided is not None
    if to_fen(amount) > claim.amount_decided:
        raise InvalidRequest(f"{field_label('amount')}:{fen_grouped(to_fen(amount))} 元超过备案金额 "
                             f"{fen_grouped(claim.amount_decided)} 元,请按备案金额以内支付", field="amount")


def shares(session: Session, claim: Claim, amount: Decimal
           ) -> tuple[dict[str, Any], dict[str, Any], DecisionRecord, dict[str, int]]:
    """The claim's new values and the step's record for a payment of ``amount``, the filing decision, and the
    payment's share of each cause in fen: the payment covers the causes in order, each up to its amount
    decided. The insurer's fee is on the amount paid, at the rate of the pack that made the filing decision."""
    assert claim.filing_decision_id is not None
    paid = to_fen(amount)
    filing = session.get(DecisionRecord, claim.filing_decision_id)
    assert filing is not None
    left, split = paid, {}
    for cause, decided in decision_causes.of(filing.amounts).items():
        split[cause] = min(left, decided)
        left -= split[cause]
    pack = PACKS.by_hash(session, filing.pack_hash)
    fee = to_fen(fee_on(from_fen(paid), pack.rate(pack.rules_file.fee.rate)))
    causes = {cause: yuan(share) for cause, share in split.items()}
    return {"amount_paid": paid, "fee": fee}, {"causes": causes, "fee": yuan(fee)}, filing, split
