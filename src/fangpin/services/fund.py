"""The fund of a county for a year (docs/policy.md section 7): fiscal inputs recorded here, payouts and fees from the
claims the insurer paid (docs/policy.md section 6, ``paid``), years chained by their carry-over (``fangpin.fund``)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangpin.claims import FUND_KEEPERS, Actor, InvalidRequest, NotAllowed
from fangpin.db import decision_causes
from fangpin.db.chained import append_one
from fangpin.db.claims_models import Claim, ClaimEvent, FundInput
from fangpin.db.models import DecisionRecord, Payment, Run
from fangpin.fund import FundLine, YearFlows, fund_lines, yuan
from fangpin.money import to_decimal, to_fen
from fangpin.services.checks import PACKS

MAX_INPUT = Decimal("1000000000000.00")  # a trillion yuan


def _county(county: str) -> str:
    if not re.fullmatch(r"\d{6}", county):
        raise InvalidRequest(f"county: {county!r} is not a six-digit county code", field="county")
    return county


def _year(year: int) -> int:
    if not 1990 <= year <= 2200:
        raise InvalidRequest(f"year: {year} is not a policy year (1990–2200)", field="year")
    return year


def input_amount(value: object) -> int:
    """A fiscal input in yuan (text or Decimal, at most two decimals, more than zero) as integer fen."""
    try:
        amount = to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"amount: {exc}", field="amount") from None
    if amount <= 0 or amount > MAX_INPUT:
        raise InvalidRequest(f"amount: {amount} is not between 0.01 and {MAX_INPUT} yuan", field="amount")
    try:
        return to_fen(amount)
    except ValueError as exc:
        raise InvalidRequest(f"amount: {exc}", field="amount") from None


def record_input(session: Session, county: str, year: int, amount: object, recorded_by: str,
                 at: dt.datetime | None = None) -> None:
    """Add a fiscal input to the county's fund for the year (inputs add up; none is ever changed)."""
    county = _county(county)
    append_one(session, FundInput, county, {"county": county, "year": _year(year), "amount": input_amount(amount),
                                            "recorded_by": recorded_by,
                                            "at": (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)})


def add_input(session: Session, actor: Actor, county: str, year: int, amount: object,
              at: dt.datetime | None = None) -> FundLine:
    """POST /v1/fund/{county}/{year}/inputs: the office records fiscal money put into the fund."""
    if actor.role not in FUND_KEEPERS:
        raise NotAllowed(f"a user with role {actor.role} may not record fiscal inputs (the office does)")
    if county != actor.county:
        raise NotAllowed(f"county {county} is not {actor.name}'s county ({actor.county})")
    record_input(session, county, year, amount, actor.name, at)
    return fund_line(session, county, year)


def fund_line(session: Session, county: str, year: int) -> FundLine:
    """The county's fund for the year: opening balance, fiscal input, payouts, fees, carry-over, top-up."""
    _county(county)
    _year(year)
    flows: dict[int, dict[str, int]] = {}
    for row_year, amount in session.execute(
        select(FundInput.year, func.sum(FundInput.amount)).where(FundInput.county == county, FundInput.year <= year)
        .group_by(FundInput.year)
    ):
        flows.setdefault(int(row_year), {})["fiscal_input"] = int(amount)
    for row_year, paid, fee, households, claims in session.execute(
        select(Claim.year, func.sum(Claim.amount_paid), func.sum(Claim.fee),
               func.count(func.distinct(Claim.household_id)), func.count())
        .where(Claim.county == county, Claim.year <= year, Claim.state == "paid").group_by(Claim.year)
    ):
        flows.setdefault(int(row_year), {}).update(payouts=int(paid or 0), fees=int(fee or 0),
                                                   households_paid=int(households), claims_paid=int(claims))
    by_year = {row_year: YearFlows(**values) for row_year, values in flows.items()}
    return fund_lines(county, by_year, year)[-1]


def read_fund(session: Session, actor: Actor, county: str, year: int) -> FundLine:
    """GET /v1/fund/{county}/{year}: any role, of its own county."""
    if county != actor.county:
        raise NotAllowed(f"county {county} is not {actor.name}'s county ({actor.county})")
    return fund_line(session, county, year)


def inputs_of(session: Session, county: str, year: int) -> list[FundInput]:
    """The fiscal inputs of the county's fund for the year, in the order they were recorded."""
    return list(session.scalars(select(FundInput).where(FundInput.county == county, FundInput.year == year)
                                .order_by(FundInput.at)))


def monthly_flows(session: Session, county: str, year: int) -> tuple[list[tuple[dt.datetime, int]],
                                                                      list[tuple[dt.date, int]]]:
    """What flowed through the county's fund of the year, one by one: each fiscal input (when recorded, fen)
    and each claim the insurer paid (the day paid, fen)."""
    inputs = [(at if at.tzinfo else at.replace(tzinfo=dt.UTC), int(amount)) for at, amount in session.execute(
        select(FundInput.at, FundInput.amount).where(FundInput.county == county, FundInput.year == year))]
    paid = session.execute(
        select(Claim.amount_paid, ClaimEvent.payload).join(Claim, Claim.id == ClaimEvent.claim_id)
        .where(Claim.county == county, Claim.year == year, Claim.state == "paid", ClaimEvent.step == "paid"))
    payouts = [(dt.date.fromisoformat(str(payload.get("paid_on"))), int(amount or 0)) for amount, payload in paid]
    return inputs, payouts


# --- what is owed, in progress and paid ----------------------------------------------------------------------

UNSPLIT = "unsplit"  # money paid on a claim whose payment step does not say by cause
STATUS_ROWS = ("decided_by_runs", "not_claimed", "in_progress", "paid", "rejected", "owed")


def _add(into: dict[str, int], amounts: dict[str, int]) -> None:
    for cause, amount in amounts.items():
        into[cause] = into.get(cause, 0) + amount


def fund_status(session: Session, county: str, year: int) -> dict[str, Any]:
    """Where the money the runs decided stands, per cause, in fen (each row also ``total`` and ``households``):

    - ``decided_by_runs``: what the screening runs of the year decided to pay (their entries in the payments
      ledger, docs/policy.md 3.4);
    - ``not_claimed``: of the runs' ``pay`` decisions, those no claim was opened on yet;
    - ``in_progress``: claims open (not paid, not rejected), at the amounts decided at filing, or at opening
      when not yet filed (screening and application claims alike);
    - ``paid``: what the insurer paid on claims (and ``fees`` on it, paid by the budget);
    - ``rejected``: what claims that were rejected had been decided;
    - ``owed``: not claimed + in progress: what the fund still owes on what was decided.
    """
    _county(county)
    _year(year)
    rows: dict[str, dict[str, int]] = {name: {} for name in STATUS_ROWS}
    households: dict[str, set[str]] = {name: set() for name in STATUS_ROWS}
    for cause, amount, household in session.execute(
        select(Payment.cause, Payment.amount, Payment.household_id).where(
            Payment.county == county, Payment.year == year, Payment.run_id.is_not(None))):
        _add(rows["decided_by_runs"], {cause: int(amount)})
        households["decided_by_runs"].add(household)
    claimed = select(Claim.decision_id).where(Claim.county == county, Claim.year == year)
    for household, amounts in session.execute(
        select(DecisionRecord.household_id, DecisionRecord.amounts).where(
            DecisionRecord.county == county, DecisionRecord.year == year, DecisionRecord.run_id.is_not(None),
            DecisionRecord.outcome == "pay", DecisionRecord.id.not_in(claimed))):
        _add(rows["not_claimed"], decision_causes.of(amounts))
        households["not_claimed"].add(household)
    deciding = func.coalesce(Claim.filing_decision_id, Claim.decision_id)
    for household, state, amounts in session.execute(
        select(Claim.household_id, Claim.state, DecisionRecord.amounts).join(
            DecisionRecord, DecisionRecord.id == deciding).where(
            Claim.county == county, Claim.year == year, Claim.state != "paid")):
        name = "rejected" if state == "rejected" else "in_progress"
        _add(rows[name], decision_causes.of(amounts))
        households[name].add(household)
    fees = 0
    for household, paid, fee, payload in session.execute(
        select(Claim.household_id, Claim.amount_paid, Claim.fee, ClaimEvent.payload)
        .outerjoin(ClaimEvent, (ClaimEvent.claim_id == Claim.id) & (ClaimEvent.step == "paid"))
        .where(Claim.county == county, Claim.year == year, Claim.state == "paid")):
        split = {cause: to_fen(Decimal(amount)) for cause, amount in (payload or {}).get("causes", {}).items()}
        if sum(split.values()) != int(paid or 0):  # a claim paid without its step's record: not split by cause
            split = {UNSPLIT: int(paid or 0) - sum(split.values()), **split}
        _add(rows["paid"], split)
        households["paid"].add(household)
        fees += int(fee or 0)
    _add(rows["owed"], rows["not_claimed"])
    _add(rows["owed"], rows["in_progress"])
    households["owed"] = households["not_claimed"] | households["in_progress"]
    causes = list(dict.fromkeys(cause for row in rows.values() for cause in row))
    labels: dict[str, str] = {}
    for pack_hash in session.scalars(select(Run.pack_hash).where(Run.county == county, Run.year == year).distinct()):
        labels.update(PACKS.by_hash(session, pack_hash).people_labels.causes)
    return {
        "county": county, "year": year, "causes": causes,
        "cause_labels": {cause: labels.get(cause, cause) for cause in causes},
        **{name: {**{cause: rows[name].get(cause, 0) for cause in causes}, "total": sum(rows[name].values()),
                  "households": len(households[name])} for name in STATUS_ROWS},
        "fees_paid": fees,
    }


def status_json(status: dict[str, Any]) -> dict[str, Any]:
    """``fund_status`` with money as yuan text."""
    return {**status, **{name: {key: value if key == "households" else yuan(value)
                                for key, value in status[name].items()} for name in STATUS_ROWS},
            "fees_paid": yuan(status["fees_paid"])}
