"""The fund of a county for a year (docs/policy.md section 7): fiscal inputs recorded here, payouts and fees from the
claims the insurer paid (docs/policy.md section 6, ``paid``), years chained by their carry-over (``fangpin.fund``).

Length: over 300 lines because a fiscal input is checked (amount, day, purpose, the input a correction names,
the same amount recorded before) where it is recorded, so that the console's confirmation, the CLI and the API
all refuse the same things; and the fund's line and its status per cause read the same tables."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangpin.claims import FUND_KEEPERS, LOCAL, Actor, InvalidRequest, NotAllowed, local_day
from fangpin.db import decision_causes
from fangpin.db.chained import append_one
from fangpin.db.claims_models import Claim, ClaimEvent, FundInput
from fangpin.db.locks import lock_chain
from fangpin.db.models import DecisionRecord, Payment, Run
from fangpin.errors import FangpinError
from fangpin.fund import FundLine, YearFlows, fund_lines, yuan
from fangpin.money import fen_grouped, to_decimal, to_fen
from fangpin.services.checks import PACKS

MAX_INPUT = Decimal("1000000000000.00")  # a trillion yuan
PURPOSE_LENGTH = 200  # the column's width (migration 0009)


def _county(county: str) -> str:
    if not re.fullmatch(r"\d{6}", county):
        raise InvalidRequest(f"county: “{county}”不是六位县(区)代码", field="county")
    return county


def _year(year: int) -> int:
    if not 1990 <= year <= 2200:
        raise InvalidRequest(f"year: {year} 不是政策年度(1990–2200)", field="year")
    return year


def input_amount(value: object, *, zero: bool = False) -> int:
    """A fiscal input in yuan (text or Decimal, at most two decimals, more than zero, or zero where ``zero``:
    a correction to nothing) as integer fen."""
    try:
        amount = to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"amount: 金额无法识别:{exc}", field="amount") from None
    if amount < 0 or (amount == 0 and not zero) or amount > MAX_INPUT:
        low = "0.00" if zero else "0.01"
        raise InvalidRequest(f"amount: 金额 {amount} 须在 {low} 至 {MAX_INPUT} 元之间", field="amount")
    try:
        return to_fen(amount)
    except ValueError as exc:
        raise InvalidRequest(f"amount: 金额最多两位小数(分):{exc}", field="amount") from None


@dataclass(frozen=True)
class InputReview:
    """A fiscal input checked and ready to be recorded, with what the person should see before confirming:
    ``amount`` is what will be stored (fen; for a correction the difference, negative to reverse), ``typed``
    the amount as asked (for a correction: what the corrected input should have been), ``duplicates`` the
    inputs of the same county and year already recorded with the same amount."""

    county: str
    year: int
    amount: int
    typed: int
    paid_on: dt.date
    purpose: str | None
    corrects: FundInput | None
    corrected_from: int | None  # the corrected input's amount so far (itself and its earlier corrections)
    duplicates: list[FundInput]


def _purpose(purpose: str | None, required: bool) -> str | None:
    text = (purpose or "").strip()
    if not text:
        if required:
            raise InvalidRequest("purpose: 请写明资金用途(按预算文件的表述)",
                                 field="purpose")
        return None
    if len(text) > PURPOSE_LENGTH:
        raise InvalidRequest(f"purpose: 用途最多 {PURPOSE_LENGTH} 个字,现有 {len(text)} 个", field="purpose")
    return text


def _paid_on(paid_on: dt.date | None, at: dt.datetime) -> dt.date:
    today = local_day(at)
    if paid_on is None:
        return today
    if paid_on > today:
        raise InvalidRequest(f"paid_on: 到账日期 {paid_on} 晚于今天({today})", field="paid_on")
    if paid_on.year < 1990:
        raise InvalidRequest(f"paid_on: 到账日期 {paid_on} 不在政策年度范围内", field="paid_on")
    return paid_on


def corrected_so_far(session: Session, original: FundInput) -> int:
    """An input's amount with the corrections recorded against it (fen)."""
    corrections = session.scalar(select(func.sum(FundInput.amount)).where(FundInput.corrects_id == original.id))
    return original.amount + int(corrections or 0)


def review_input(session: Session, county: str, year: int, amount: object, *, paid_on: dt.date | None = None,
                 purpose: str | None = None, corrects: int | None = None, at: dt.datetime | None = None,
                 purpose_required: bool = True) -> InputReview:
    """Check a fiscal input before it is recorded (nothing is stored): the amount, the day (not in the
    future; the day of recording when not given), the purpose, and for a correction the input it corrects
    (an input of the same county and year, itself no correction) and the difference to record."""
    county = _county(county)
    year = _year(year)
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    typed = input_amount(amount, zero=corrects is not None)
    day = _paid_on(paid_on, at)
    text = _purpose(purpose, purpose_required)
    original: FundInput | None = None
    before: int | None = None
    stored = typed
    if corrects is not None:
        original = session.get(FundInput, corrects)
        if original is None or original.county != county or original.year != year:
            raise InvalidRequest(f"corrects: 本县(区){year} 年度没有编号为 #{corrects} 的财政投入",
                                 field="corrects")
        if original.corrects_id is not None:
            raise InvalidRequest(f"corrects: #{corrects} 本身是对 #{original.corrects_id} 的更正;"
                                 f"请更正原投入 #{original.corrects_id}", field="corrects")
        before = corrected_so_far(session, original)
        stored = typed - before
        if stored == 0:
            raise InvalidRequest(f"amount: #{corrects} 现为 {fen_grouped(before)} 元,与更正后的金额相同,无需更正",
                                 field="amount")
    duplicates = [] if original is not None else list(session.scalars(
        select(FundInput).where(FundInput.county == county, FundInput.year == year, FundInput.amount == typed,
                                FundInput.corrects_id.is_(None)).order_by(FundInput.seq)))
    return InputReview(county=county, year=year, amount=stored, typed=typed, paid_on=day, purpose=text,
                       corrects=original, corrected_from=before, duplicates=duplicates)


def record_input(session: Session, county: str, year: int, amount: object, recorded_by: str,
                 at: dt.datetime | None = None, *, paid_on: dt.date | None = None, purpose: str | None = None,
                 corrects: int | None = None, purpose_required: bool = False) -> int:
    """Add a fiscal input to the county's fund for the year (inputs add up; none is ever changed: a
    correction is a new input naming the one it corrects, holding the difference). The new input's id."""
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    lock_chain(session, FundInput.__tablename__, _county(county))  # a correction counts what stands, alone
    checked = review_input(session, county, year, amount, paid_on=paid_on, purpose=purpose, corrects=corrects,
                           at=at, purpose_required=purpose_required)
    return record_reviewed(session, checked, recorded_by, at)


class RepeatedInput(FangpinError):
    """The same amount was recorded for the county and year already, and recording it again was not confirmed."""

    def __init__(self, checked: InputReview) -> None:
        self.checked = checked
        super().__init__(f"amount: 本县(区){checked.year} 年度已记录过同一金额的投入:"
                         + "、".join(f"#{row.id}" for row in checked.duplicates))


def enter_input(session: Session, county: str, year: int, amount: object, recorded_by: str,
                at: dt.datetime | None = None, *, paid_on: dt.date | None, purpose: str | None,
                corrects: int | None = None, repeat_ok: bool = False) -> tuple[int, InputReview]:
    """A person's fiscal input (``fangpin fund --input``): checked with its purpose required, refused as
    ``RepeatedInput`` when its amount was recorded for the county and year already unless ``repeat_ok``,
    recorded; the new input's id and what was checked."""
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    lock_chain(session, FundInput.__tablename__, _county(county))
    checked = review_input(session, county, year, amount, paid_on=paid_on, purpose=purpose, corrects=corrects,
                           at=at)
    if checked.duplicates and not repeat_ok:
        raise RepeatedInput(checked)
    return record_reviewed(session, checked, recorded_by, at), checked


def record_reviewed(session: Session, checked: InputReview, recorded_by: str, at: dt.datetime) -> int:
    """Record an input ``review_input`` checked (in the same transaction)."""
    return int(append_one(session, FundInput, checked.county, {
        "county": checked.county, "year": checked.year, "amount": checked.amount, "recorded_by": recorded_by,
        "at": at.astimezone(dt.UTC), "paid_on": checked.paid_on, "purpose": checked.purpose,
        "corrects_id": checked.corrects.id if checked.corrects is not None else None}))


def _keeper(actor: Actor, county: str) -> None:
    if actor.role not in FUND_KEEPERS:
        raise NotAllowed("只有防贫办可以记录财政投入")
    if county != actor.county:
        raise NotAllowed(f"{actor.name} 属于县(区){actor.county},不能查看或记录县(区){county} 的基金")


def check_input(session: Session, actor: Actor, county: str, year: int, amount: object, *,
                paid_on: dt.date | None, purpose: str | None, corrects: int | None = None,
                at: dt.datetime | None = None) -> InputReview:
    """The console's confirmation step: the office's input checked, nothing stored (purpose required)."""
    _keeper(actor, county)
    return review_input(session, county, year, amount, paid_on=paid_on, purpose=purpose, corrects=corrects, at=at)


def add_input(session: Session, actor: Actor, county: str, year: int, amount: object,
              at: dt.datetime | None = None, *, paid_on: dt.date | None = None, purpose: str | None = None,
              corrects: int | None = None, purpose_required: bool = False) -> FundLine:
    """POST /v1/fund/{county}/{year}/inputs: the office records fiscal money put into the fund (the day
    defaults to the day of recording; the console and the CLI require the purpose, the API does not)."""
    _keeper(actor, county)
    record_input(session, county, year, amount, actor.name, at, paid_on=paid_on, purpose=purpose,
                 corrects=corrects, purpose_required=purpose_required)
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
        raise NotAllowed(f"{actor.name} 属于县(区){actor.county},不能查看或记录县(区){county} 的基金")
    return fund_line(session, county, year)


def inputs_of(session: Session, county: str, year: int) -> list[FundInput]:
    """The fiscal inputs of the county's fund for the year, in the order they were recorded."""
    return list(session.scalars(select(FundInput).where(FundInput.county == county, FundInput.year == year)
                                .order_by(FundInput.seq)))


def ledger(session: Session, county: str, year: int) -> list[dict[str, Any]]:
    """The year's inputs as the ledger shows them, in the order recorded: each with its day, purpose, who
    recorded it and its amount (fen); an input corrected later with what it stands at now (``stands_at``) and
    the ids of its corrections; a correction with the input it corrects. The amounts add up to the line's
    fiscal input."""
    rows = inputs_of(session, county, year)
    corrections: dict[int, list[int]] = {}
    for row in rows:
        if row.corrects_id is not None:
            corrections.setdefault(row.corrects_id, []).append(row.id)
    by_id = {row.id: row for row in rows}
    entries = []
    for row in rows:
        fixes = corrections.get(row.id, [])
        entries.append({
            "id": row.id, "at": row.at, "paid_on": row.paid_on, "purpose": row.purpose,
            "recorded_by": row.recorded_by, "amount": row.amount, "corrects_id": row.corrects_id,
            "corrections": fixes,
            "stands_at": row.amount + sum(by_id[fix].amount for fix in fixes) if fixes else None,
        })
    return entries


def _moment(at: dt.datetime, paid_on: dt.date | None) -> dt.datetime:
    """When an input came: noon of the day it says, in the counties' time; an input recorded before days were
    recorded (migration 0009), when it was recorded."""
    if paid_on is not None:
        return dt.datetime.combine(paid_on, dt.time(12), tzinfo=LOCAL)
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def monthly_flows(session: Session, county: str, year: int) -> tuple[list[tuple[dt.datetime, int]],
                                                                      list[tuple[dt.date, int]]]:
    """What flowed through the county's fund of the year, one by one: each fiscal input (the day it came, fen)
    and each claim the insurer paid (the day paid, fen)."""
    inputs = [(_moment(at, paid_on), int(amount)) for at, paid_on, amount in session.execute(
        select(FundInput.at, FundInput.paid_on, FundInput.amount).where(FundInput.county == county,
                                                                        FundInput.year == year))]
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
