"""A household document read against its pack: the status and every event checked against what the pack
declares, each event's contribution to its cause's base, and whether it counts. The same base formula and
counting condition drive bulk screening (``base_expr``, ``counts_expr``); tests hold the two equal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from fangpin.errors import DocumentError
from fangpin.facts import Household, money
from fangpin.money import ZERO, to_fen
from fangpin.packs.conditions import holds, holds_expr
from fangpin.packs.loader import Pack
from fangpin.packs.schema import Cause, EventField
from fangpin.packs.structure import STATUS_VOCABULARY, event_kinds


@dataclass(frozen=True)
class CheckedEvent:
    cause: str
    id: str
    date: dt.date
    person_id: str | None
    values: dict[str, Decimal | str | bool]
    amount: Decimal  # its contribution to the cause's base, if it counts
    counts: bool


def status_code(household: Household, pack: Pack) -> str:
    terms = pack.structure.vocabularies[STATUS_VOCABULARY]
    code = terms.code_of(household.status)
    if code is None:
        known = "、".join(terms.labels.get(code, code) for code in terms.codes)
        raise DocumentError(f"status: “{household.status}”不是规则包认识的户类型(可选:{known})", field="status")
    return code


def checked_events(household: Household, pack: Pack) -> dict[str, tuple[CheckedEvent, ...]]:
    """Every event of the document, checked: an event list or a ``paid_this_year`` key of a cause the pack
    lacks is refused naming that field, and so is any field an event may not have or has wrong."""
    known = pack.cause_ids
    for cause in household.events:
        if cause not in known:
            raise DocumentError(f"{cause}: 规则包 {pack.id} 没有救助项目 {cause}(它的项目:{'、'.join(known)})",
                                field=cause)
    for cause in household.paid_this_year:
        if cause not in known:
            raise DocumentError(
                f"paid_this_year.{cause}: 规则包 {pack.id} 没有救助项目 {cause}(它的项目:{'、'.join(known)})",
                field=f"paid_this_year.{cause}",
            )
    return {cause.id: tuple(_check(cause, index, event.id, event.date, event.person_id, event.fields, pack)
                            for index, event in enumerate(household.events_of(cause.id)))
            for cause in pack.causes}


def cause_bases(household: Household, pack: Pack) -> dict[str, Decimal]:
    """Each cause's annual base: what the pack says counts, summed over the policy year."""
    return {cause: sum((event.amount for event in events if event.counts), ZERO)
            for cause, events in checked_events(household, pack).items()}


def _check(cause: Cause, index: int, event_id: str, date: dt.date, person_id: str | None,
           given: dict[str, object], pack: Pack) -> CheckedEvent:
    where = f"{cause.id}[{index}]"
    declared = {field.name: field for field in cause.fields}
    for name in given:
        if name not in declared:
            allowed = "、".join(["id", "date", "person_id", *declared])
            raise DocumentError(f"{where}.{name}: 不是“{cause.label}”记录可填写的项目(可填:{allowed})",
                                field=f"{where}.{name}")
    values = {field.name: _value(field, given.get(field.name), f"{where}.{field.name}", pack)
              for field in cause.fields}
    amount = event_amount(cause, values)
    node = pack.structure.counts[cause.id]
    counts = node is None or holds(node, values)
    return CheckedEvent(cause.id, event_id, date, person_id, values, amount, counts)


def event_amount(cause: Cause, values: dict[str, Decimal | str | bool]) -> Decimal:
    added = sum((_decimal(values[name]) for name in cause.base.add), ZERO)
    amount = added - sum((_decimal(values[name]) for name in cause.base.subtract), ZERO)
    if cause.base.floor is not None:
        amount = max(amount, cause.base.floor)
    return amount


def _decimal(value: object) -> Decimal:
    assert isinstance(value, Decimal)
    return value


def _value(field: EventField, raw: object, where: str, pack: Pack) -> Decimal | str | bool:
    if raw is None:
        if field.default is None:
            raise DocumentError(f"{where}: 必须填写", field=where)
        raw = field.default
    if field.type == "money":
        try:
            return money(raw)  # as a document's amounts: exact, non-negative, fen
        except ValueError as exc:
            raise DocumentError(f"{where}: {exc}", field=where) from None
    if field.type == "bool":
        if not isinstance(raw, bool):
            raise DocumentError(f"{where}: 应为 true 或 false,不是 {raw!r}", field=where)
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise DocumentError(f"{where}: 应为文字,不是 {raw!r}", field=where)
    if field.type == "text":
        return raw.strip()
    assert field.vocabulary is not None
    terms = pack.structure.vocabularies[field.vocabulary]
    code = terms.code_of(raw)
    if code is None:
        raise DocumentError(f"{where}: “{raw}”不是规则包认识的{terms.label or field.vocabulary}"
                            f"(可选:{'、'.join(terms.codes)})", field=where)
    return code


# --- the same on columns, for screening ---------------------------------------------------------------


def base_expr(cause: Cause) -> pl.Expr:
    """An event's contribution in fen, from its money columns in fen (``event_amount``, column-wise)."""
    amount = pl.sum_horizontal([pl.col(name).fill_null(0) for name in cause.base.add])
    if cause.base.subtract:
        amount = amount - pl.sum_horizontal([pl.col(name).fill_null(0) for name in cause.base.subtract])
    if cause.base.floor is not None:
        amount = amount.clip(lower_bound=to_fen(cause.base.floor))
    return amount.cast(pl.Int64)


def counts_expr(cause: Cause, pack: Pack) -> pl.Expr:
    node = pack.structure.counts[cause.id]
    if node is None:
        return pl.lit(True)
    return holds_expr(node, event_kinds(cause))
