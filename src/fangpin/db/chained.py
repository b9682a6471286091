"""Appending to, and walking, the per-county hash chains of decisions and payments.

A record's payload is its chained columns in table order, each written as text (``\\N`` for null, ``\\`` and
``|`` escaped in strings, datetimes as UTC ISO without offset) and joined with ``|``. The same text is built
column-wise for bulk appends (``payload_expr``) and row by row for single appends and for verification
(``payload``); a test holds the two equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangpin.audit.chain import GENESIS, canonical, plain, record_hash
from fangpin.db import decision_causes, queries
from fangpin.db.bulk import bulk_insert
from fangpin.db.claims_models import ClaimEvent
from fangpin.db.models import Base, ChainHead, DecisionRecord, Payment

CHAINS: dict[str, type[Base]] = {"decisions": DecisionRecord, "payments": Payment, "claim_events": ClaimEvent}
_UNCHAINED = frozenset({"id", "prev_hash", "record_hash"})


def chained_columns(model: type[Base]) -> list[str]:
    return [column.name for column in model.__table__.columns if column.name not in _UNCHAINED]


def _text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        text = str(plain(value))
    elif isinstance(value, dict | list):
        text = canonical({"value": value})
    else:
        text = str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|")


def payload(model: type[Base], values: dict[str, Any]) -> str:
    if model is DecisionRecord and values.get("layout") == 1:
        return _layout1_payload(values)
    return "|".join(_text(values.get(name)) for name in chained_columns(model))


def _layout1_payload(values: dict[str, Any]) -> str:
    """A decision written by fangpin 0.1 hashed as it was then: one value per cause where the per-cause
    columns now hold JSON objects, and no ``layout``."""
    parts: list[str] = []
    for name in chained_columns(DecisionRecord):
        if name == "layout":
            continue
        if name in decision_causes.COLUMNS:
            parts += [_text(value) for value in decision_causes.of(values.get(name)).values()]
        else:
            parts.append(_text(values.get(name)))
    return "|".join(parts)


def _python_type(model: type[Base], name: str) -> type:
    try:
        return model.__table__.c[name].type.python_type
    except NotImplementedError:
        return object


def payload_expr(model: type[Base], constants: dict[str, object]) -> pl.Expr:
    """``payload`` for every row of a frame at once; ``constants`` give the values that are the same for
    every row (the time of recording), already in the form ``payload`` would write."""
    parts = []
    for name in chained_columns(model):
        if name in constants:
            parts.append(pl.lit(_text(constants[name])))
            continue
        column = pl.col(name).cast(pl.String)
        if not issubclass(_python_type(model, name), int):  # digits need no escaping
            column = column.str.replace_all("\\", "\\\\", literal=True).str.replace_all("|", "\\|", literal=True)
        parts.append(column.fill_null("\\N"))
    return pl.concat_str(parts, separator="|")


def _chain_end(session: Session, model: type[Base], county: str) -> tuple[int, str]:
    last = session.execute(
        select(model.seq, model.record_hash)  # type: ignore[attr-defined]
        .where(model.county == county)  # type: ignore[attr-defined]
        .order_by(model.seq.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS)


def _record_head(session: Session, model: type[Base], county: str, seq: int, head: str) -> None:
    session.add(ChainHead(chain=model.__tablename__, county=county, seq=seq, record_hash=head,
                          recorded_at=queries.now()))


def append_chained(session: Session, model: type[Base], county: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows at the end of the county's chain. Two writers extending the chain at once collide on
    the unique (county, seq) key: the later transaction fails and stores nothing."""
    if not rows:
        return
    seq, previous = _chain_end(session, model, county)
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = previous
        previous = row["record_hash"] = record_hash(previous, payload(model, row))
    queries.insert_rows(session, model, rows)
    _record_head(session, model, county, seq, previous)


def append_chained_frame(
    session: Session, model: type[Base], county: str, frame: pl.DataFrame, constants: dict[str, object]
) -> None:
    """``append_chained`` for a whole frame: payloads column-wise, one sha256 per row, a bulk insert (which,
    on SQLite, stages the rows while the hashes are being computed)."""
    if frame.is_empty():
        return
    seq, previous = _chain_end(session, model, county)
    frame = frame.with_columns(
        pl.int_range(seq + 1, seq + 1 + frame.height, dtype=pl.Int64).alias("seq"),
        *(pl.lit(value).alias(name) for name, value in constants.items()),
    )
    head: list[str] = [previous]

    def hashes() -> pl.DataFrame:
        links: list[str] = []
        digests: list[str] = []
        last = previous
        for text in frame.select(payload_expr(model, constants)).to_series().to_list():
            links.append(last)
            last = record_hash(last, text)
            digests.append(last)
        head[0] = last
        return pl.DataFrame({"prev_hash": links, "record_hash": digests}, schema={"prev_hash": pl.String,
                                                                                 "record_hash": pl.String})

    unchained = [c.name for c in model.__table__.columns if c.name not in ("id", "prev_hash", "record_hash")]
    bulk_insert(session, model, frame.select(unchained), late=hashes)
    _record_head(session, model, county, seq + frame.height, head[0])


@dataclass(frozen=True)
class Break:
    chain: str
    county: str
    seq: int
    record_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.chain} of county {self.county}, record seq {self.seq}"
        return f"{where}{f' (id {self.record_id})' if self.record_id is not None else ''}: {self.problem}"


def walk(session: Session, chain: str) -> Iterator[Break]:
    """Every break in one chain, county by county: altered, removed, or inserted out of order."""
    model = CHAINS[chain]
    names = chained_columns(model)
    columns = [model.__table__.c[name] for name in ("id", "prev_hash", "record_hash", *names)]
    heads: dict[str, tuple[int, str]] = {}
    for county, seq, head_hash in session.execute(
        select(ChainHead.county, ChainHead.seq, ChainHead.record_hash).where(ChainHead.chain == chain)
    ):
        if seq >= heads.get(county, (0, ""))[0]:
            heads[county] = (int(seq), str(head_hash))
    counties = sorted(set(heads) | set(session.scalars(select(model.county).distinct())))  # type: ignore[attr-defined]
    for county in counties:
        expected_seq, previous = 1, GENESIS
        broken = False
        rows = session.execute(
            select(*columns).where(model.county == county).order_by(model.seq)  # type: ignore[attr-defined]
            .execution_options(yield_per=20_000)
        )
        try:
            for row in rows:
                values = row._mapping
                seq = int(values["seq"])
                if seq != expected_seq:
                    problem = (f"record seq {expected_seq} is missing (removed)" if seq > expected_seq
                               else "a record was inserted out of order")
                    yield Break(chain, county, expected_seq, int(values["id"]), problem)
                    broken = True
                    break
                if values["prev_hash"] != previous:
                    yield Break(chain, county, seq, int(values["id"]),
                                "does not link to the record before it (inserted or reordered)")
                    broken = True
                    break
                if record_hash(previous, payload(model, dict(values))) != values["record_hash"]:
                    yield Break(chain, county, seq, int(values["id"]), "its content was altered after it was stored")
                    broken = True
                    break
                previous = values["record_hash"]
                expected_seq += 1
        finally:
            rows.close()
        if broken:
            continue
        head = heads.get(county)
        if head is not None and (head[0] != expected_seq - 1 or head[1] != previous):
            yield Break(chain, county, expected_seq, None,
                        f"the chain ends at seq {expected_seq - 1} but was recorded as reaching seq {head[0]} "
                        "(records removed from its end)")
