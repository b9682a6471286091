"""Small query functions taking a Session. Writes only ever insert (the audit tables are append-only)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from fangpin.db.locks import lock_chain
from fangpin.db.models import DecisionRecord, PackRecord, Payment, Run, RunEventPart, RunEvents
from fangpin.errors import StorageError
from fangpin.packs import Pack

PACK_FILES = ("pack.yaml", "parameters.yaml", "rules.yaml")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ensure_pack(session: Session, pack: Pack) -> bool:
    """Store a pack's files by hash, once, so its decisions can be replayed without the folder; whether it
    was stored already. A writer that stores it takes the ``packs`` lock first (``db.locks``), so two
    writers storing the same pack wait for each other instead of colliding on its key."""
    if session.get(PackRecord, pack.hash) is not None:
        return True
    lock_chain(session, "packs", "")
    if session.get(PackRecord, pack.hash) is not None:  # stored meanwhile, by the lock's last holder
        return True
    files = dict(pack.files)  # resolved: a delta pack is stored whole
    session.add(PackRecord(hash=pack.hash, pack_id=pack.id, version=pack.meta.version,
                           content={"files": files}, stored_at=now()))
    session.flush()
    return False


def write_pack_files(session: Session, pack_hash: str, directory: Path) -> bool:
    record = session.get(PackRecord, pack_hash)
    if record is None:
        return False
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in record.content["files"].items():
        (directory / name).write_text(text, encoding="utf-8")
    return True


def ledger_parts(session: Session, run_id: str) -> Iterator[bytes]:
    """A run's event ledger as stored since migration 0011: its parts' bytes, in order, one at a time."""
    numbers = session.execute(select(RunEventPart.part).where(RunEventPart.run_id == run_id)
                              .order_by(RunEventPart.part)).scalars().all()
    for number in numbers:
        yield session.execute(select(RunEventPart.data).where(RunEventPart.run_id == run_id,
                                                              RunEventPart.part == number)).scalar_one()


def ledger_bytes(session: Session, run_id: str) -> bytes:
    return b"".join(ledger_parts(session, run_id))


def stored_ledgers(session: Session, county: str, year: int) -> Iterator[pl.DataFrame]:
    """The event ledgers of the year's runs, oldest first, one at a time (an event's latest version is the
    one in the latest ledger), for splitting into partitions as they are read (``screening.linking.link``)."""
    ids = session.execute(
        select(RunEvents.run_id).where(RunEvents.county == county, RunEvents.year == year)
        .order_by(RunEvents.recorded_at, RunEvents.run_id)
    ).scalars().all()
    for run_id in ids:
        # run_events.data for a run stored before migration 0011, its parts joined in order for one since
        data = session.execute(select(RunEvents.data).where(RunEvents.run_id == run_id)).scalar_one()
        data = data or ledger_bytes(session, run_id)
        if not data:
            raise StorageError(f"the event ledger of {county} {year} was purged (`fangpin runs purge`): drops of "
                               "that policy year can no longer be screened")
        yield pl.read_parquet(io.BytesIO(data))


PAID_ROWS = 100_000  # rows of ``paid_before_rows`` held at once


def paid_before_rows(session: Session, county: str, year: int) -> Iterator[pl.DataFrame]:
    """What the fund has paid each household this year, as household_id, cause, amount (fen), one row per
    household and cause, ``PAID_ROWS`` at a time (``paid_before`` per household, not held whole)."""
    result = session.execute(
        select(Payment.household_id, Payment.cause, func.sum(Payment.amount))
        .where(Payment.county == county, Payment.year == year)
        .group_by(Payment.household_id, Payment.cause)
        .execution_options(yield_per=PAID_ROWS)
    )
    for rows in result.partitions():
        yield pl.DataFrame([(h, c, int(a)) for h, c, a in rows],
                           schema={"household_id": pl.String, "cause": pl.String, "amount": pl.Int64}, orient="row")


def household_paid(session: Session, county: str, year: int, household_id: str,
                   causes: Sequence[str]) -> dict[str, int]:
    """What the ledger counts as paid to one household this year, per cause, in fen (0 for a cause it has
    no entry for)."""
    paid: dict[str, int] = dict.fromkeys(causes, 0)
    for cause, amount in session.execute(
        select(Payment.cause, func.sum(Payment.amount))
        .where(Payment.county == county, Payment.year == year, Payment.household_id == household_id)
        .group_by(Payment.cause)
    ):
        paid[cause] = int(amount)
    return paid


def household_payments(session: Session, county: str, year: int, household_id: str) -> list[Payment]:
    """The ledger's entries for one household and year, in the order they were recorded."""
    return list(session.scalars(
        select(Payment).where(Payment.county == county, Payment.year == year, Payment.household_id == household_id)
        .order_by(Payment.seq)
    ))


def run_for_drop(session: Session, county: str, year: int, drop_hash: str, pack_hash: str) -> Run | None:
    return session.scalars(
        select(Run).where(Run.county == county, Run.year == year, Run.drop_hash == drop_hash,
                          Run.pack_hash == pack_hash).order_by(Run.finished_at)
    ).first()


def insert_rows(session: Session, table: Any, rows: list[dict[str, Any]], *, chunk: int = 20_000) -> None:
    for start in range(0, len(rows), chunk):
        session.execute(insert(table), rows[start:start + chunk])


def decision_ids(session: Session, run_id: str) -> dict[str, int]:
    rows = session.execute(
        select(DecisionRecord.household_id, DecisionRecord.id).where(DecisionRecord.run_id == run_id)
    ).all()
    return {household_id: decision_id for household_id, decision_id in rows}


def latest_runs(session: Session, limit: int = 20) -> list[Run]:
    return list(session.scalars(select(Run).order_by(Run.finished_at.desc()).limit(limit)))
