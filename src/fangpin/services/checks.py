"""Single checks, stored: decide one household document and keep the decision (with its facts, the pack
and the document) so it can be read and replayed. Also reading a stored decision, and replaying it.

Every write that extends a county's hash chain first takes that chain's lock (``lock_chain``), so
concurrent requests append one after the other instead of colliding on the chain's unique key.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, literal, select, text
from sqlalchemy.orm import Session

from fangpin.audit.chain import GENESIS, record_hash
from fangpin.claims import CHECKERS, REPLAYERS, Actor, NotAllowed, in_county
from fangpin.db import decision_causes, queries
from fangpin.db.chained import payload as chain_payload
from fangpin.db.models import DECISION_LAYOUT, Base, ChainHead, DecisionRecord, PackRecord
from fangpin.deciding import decide
from fangpin.decisions import Decision
from fangpin.errors import DocumentError, NoPackForYear
from fangpin.facts import Household
from fangpin.fund import yuan
from fangpin.money import ZERO, to_decimal, to_fen
from fangpin.packs import Pack
from fangpin.packs.conditions import HOUSEHOLD_FIELDS
from fangpin.services import resolve_pack

MAX_AMOUNT = Decimal("10000000000.00")  # ten billion yuan: far above any household, far below int64 fen
MAX_EVENTS = 1000
MAX_MEMBERS = 1000


def iso_utc(moment: dt.datetime) -> str:
    """UTC with its offset: SQLite hands datetimes back naive (they were stored in UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()


# --- packs: loaded once per process ------------------------------------------------------------------

class PackCache:
    """Packs by policy year (and named folder) and by hash, loaded once: loading and compiling a pack costs
    milliseconds, far more than deciding with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        self._by_year: dict[tuple[int, str | None, str | None], Pack] = {}
        self._by_hash: dict[str, Pack] = {}
        self._stored: dict[str, Pack] = {}

    def for_year(self, year: int, pack_dir: Path | None = None) -> Pack:
        # keyed by the folder the packs come from: a named one, else FANGPIN_RULES_DIR (read directly: the
        # settings object costs milliseconds to build), else the shipped packs
        key = (year, str(pack_dir) if pack_dir else None, None if pack_dir else os.environ.get("FANGPIN_RULES_DIR"))
        pack = self._by_year.get(key)
        if pack is None:
            with self._loading:  # one thread loads; the others wait for its result instead of loading too
                pack = self._by_year.get(key)
                if pack is None:
                    pack = resolve_pack(year, pack_dir)
                    with self._lock:
                        self._by_year[key] = pack
                        self._by_hash.setdefault(pack.hash, pack)
        return pack

    def by_hash(self, session: Session, pack_hash: str) -> Pack:
        """The pack that made a stored decision: one already loaded, else rebuilt from the stored files."""
        pack = self._by_hash.get(pack_hash)
        if pack is None:
            from fangpin.services.replay import stored_pack

            with self._loading:
                pack = self._by_hash.get(pack_hash)
                if pack is None:
                    pack = stored_pack(session, pack_hash)
                    with self._lock:
                        self._by_hash[pack_hash] = pack
        return pack

    def ensure_stored(self, session: Session, pack: Pack) -> None:
        """``queries.ensure_pack``, skipped once this process has seen the pack stored in this database. Only
        a pack found already there is remembered: one this transaction inserts may yet be rolled back."""
        key = f"{session.get_bind().engine.url}|{pack.hash}"
        if key in self._stored:
            return
        if session.get(PackRecord, pack.hash) is not None:
            self._stored[key] = pack
            return
        lock_chain(session, "packs", "")  # writers first take the lock, then write (see lock_chain)
        queries.ensure_pack(session, pack)


PACKS = PackCache()


# --- the chain lock ----------------------------------------------------------------------------------

class _SqliteWriters:
    """One writer at a time per SQLite file, across the threads of a process (a lock) and across processes (an
    exclusive ``flock`` on a file beside the database). Waiters sleep in the kernel and wake the moment the
    writer finishes, where SQLite's own busy handler would poll with growing sleeps (1, 2, 5 … 100 ms): under
    load that polling, not the work, made the latency. Held from BEGIN IMMEDIATE to the end of the transaction."""

    def __init__(self) -> None:
        self._threads: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def acquire(self, session: Session, database: str) -> None:
        with self._guard:
            lock = self._threads.setdefault(database, threading.Lock())
        lock.acquire()
        try:
            descriptor = os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            except BaseException:
                os.close(descriptor)
                raise
        except BaseException:
            lock.release()
            raise
        session.info[_WRITER] = (descriptor, lock)


_WRITER = "fangpin.sqlite_writer"
_WRITERS = _SqliteWriters()


@event.listens_for(Session, "after_transaction_end")
def _release_writer(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        _release(session)


def _release(session: Session) -> None:
    held = session.info.pop(_WRITER, None)
    if held is not None:
        descriptor, lock = held
        os.close(descriptor)  # closing the file releases the flock
        lock.release()


def lock_chain(session: Session, chain: str, county: str) -> None:
    """Serialise writers of one county's chain until the transaction ends. PostgreSQL: a transaction-level
    advisory lock per chain and county. SQLite: the database's write lock (one writer at a time anyway),
    taken before anything is read, so the chain's head is read under it; the writer lock is taken before a
    connection is, so waiting writers do not hold the pool's connections."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(chain, county)})
    elif bind.dialect.name == "sqlite" and _WRITER not in session.info:
        database = bind.engine.url.database
        if database and database != ":memory:":
            _WRITERS.acquire(session, database)
        try:
            connection = session.connection()
            driver = connection.connection.driver_connection
            if driver is not None and not driver.in_transaction:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if not session.in_transaction():  # no transaction whose end would release the writer lock
                _release(session)
            raise


# --- appending one record to a chain ----------------------------------------------------------------

_STATEMENTS: dict[str, tuple[Any, Any]] = {}
_INSERT_CHAIN_HEAD = cast(Table, ChainHead.__table__).insert()


def append_one(session: Session, model: type[Base], county: str, row: dict[str, Any], *,
               lock: str | None = None) -> int:
    """Append one row at the end of the county's chain of ``model``, exactly as ``chained.append_chained``
    does (the same payload, hash and chain-head record), in Core statements on the session's connection;
    the new row's id. A single check or claim step appends one record: the ORM's bulk machinery costs more
    than the work. The chain's lock must be held (``lock_chain``), or named in ``lock`` to be taken here.

    Every request of a county appends to the same chain, one after the other, so what happens while the
    lock is held is what limits how many a second: on PostgreSQL, the lock and the read of the chain's end
    go in one round trip (a pipeline; the read is its own statement, so it sees what the lock's last holder
    committed), and the row and its chain-head record in another (one statement)."""
    table = cast(Table, model.__table__)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return _append_one_postgresql(connection, model, table, county, row, lock)
    if lock is not None:
        lock_chain(session, lock, county)
    statements = _STATEMENTS.get(table.name)
    if statements is None:  # built once: building a statement costs more than executing it
        statements = _STATEMENTS[table.name] = (
            select(table.c.seq, table.c.record_hash).where(table.c.county == bindparam("county"))
            .order_by(table.c.seq.desc()).limit(1),
            table.insert().returning(table.c.id),
        )
    head, insert_row = statements
    last = connection.execute(head, {"county": county}).first()
    _link(model, row, last)
    new_id = connection.execute(insert_row, row).scalar_one()
    connection.execute(_INSERT_CHAIN_HEAD, {"chain": table.name, "county": county, "seq": row["seq"],
                                            "record_hash": row["record_hash"], "recorded_at": queries.now()})
    return int(new_id)


def _link(model: type[Base], row: dict[str, Any], last: Any) -> None:
    seq, previous = (int(last[0]), str(last[1])) if last else (0, GENESIS)
    row["seq"] = seq + 1
    row["prev_hash"] = previous
    row["record_hash"] = record_hash(previous, chain_payload(model, row))


_PG_STATEMENTS: dict[str, tuple[str, Any, list[str]]] = {}


def _append_one_postgresql(connection: Any, model: type[Base], table: Table, county: str, row: dict[str, Any],
                           lock: str | None) -> int:
    statements = _PG_STATEMENTS.get(table.name)
    if statements is None:  # built once, as above
        columns = [column.name for column in table.columns if column.name != "id"]
        statements = _PG_STATEMENTS[table.name] = (
            f'SELECT seq, record_hash FROM "{table.name}" WHERE county = %s ORDER BY seq DESC LIMIT 1',
            _insert_with_head(table, columns),
            columns,
        )
    head_sql, insert_with_head, columns = statements
    raw = connection.connection.driver_connection
    with raw.cursor() as locking, raw.cursor() as reading:
        if lock is not None:
            with raw.pipeline():
                locking.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(lock, county),))
                reading.execute(head_sql, (county,))
        else:
            reading.execute(head_sql, (county,))
        last = reading.fetchone()
    _link(model, row, last)
    values = {**dict.fromkeys(columns), **row, "head_recorded_at": queries.now()}
    return int(connection.execute(insert_with_head, values).scalar_one())


def _insert_with_head(table: Table, columns: list[str]) -> Any:
    """The row and its chain-head record in one statement (PostgreSQL's data-modifying CTEs)."""
    appended = (
        table.insert().values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .returning(table.c.id, table.c.county, table.c.seq, table.c.record_hash).cte("appended")
    )
    heads = cast(Table, ChainHead.__table__)
    recorded = heads.insert().from_select(
        ["chain", "county", "seq", "record_hash", "recorded_at"],
        select(literal(table.name, heads.c.chain.type), appended.c.county, appended.c.seq, appended.c.record_hash,
               bindparam("head_recorded_at", type_=heads.c.recorded_at.type)),
    ).cte("recorded")
    return select(appended.c.id).add_cte(recorded)


def _lock_key(chain: str, county: str) -> int:
    digest = hashlib.sha256(f"fangpin:{chain}:{county}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# --- checks ------------------------------------------------------------------------------------------

def validate_household(household: Household) -> None:
    """Limits the document model leaves open but storage needs: identifier lengths, household size,
    amounts (so every sum fits in 64-bit fen on both databases)."""
    for name, limit in (("household_id", 64), ("township", 100), ("village", 100), ("head_name", 100),
                        ("head_id", 64)):
        value = getattr(household, name)
        if value is not None and len(value) > limit:
            raise DocumentError(f"{name}: longer than {limit} characters", field=name)
    if household.members > MAX_MEMBERS:
        raise DocumentError(f"members: more than {MAX_MEMBERS} members in one household", field="members")
    amounts: list[tuple[str, Decimal | None]] = [("income", household.income),
                                                 ("income_per_capita", household.income_per_capita)]
    amounts += [(f"paid_this_year.{cause}", amount) for cause, amount in household.paid_this_year.items()]
    for cause, events in household.events.items():
        if len(events) > MAX_EVENTS:
            raise DocumentError(f"{cause}: more than {MAX_EVENTS} events", field=cause)
        for index, item in enumerate(events):
            for name, value in item.fields.items():
                if isinstance(value, Decimal | int) and not isinstance(value, bool):
                    amounts.append((f"{cause}[{index}].{name}", Decimal(value)))
                elif isinstance(value, str):
                    try:
                        amounts.append((f"{cause}[{index}].{name}", to_decimal(value)))
                    except ValueError:
                        continue  # not an amount: the pack checks it
    for field, amount in amounts:
        if amount is not None and amount > MAX_AMOUNT:
            raise DocumentError(f"{field}: {amount} is more than {MAX_AMOUNT} yuan", field=field)


def store_decision(
    session: Session,
    decision: Decision,
    paid_before: dict[str, Decimal],
    *,
    document: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one decision to its county's chain of decisions; its id. The pack must already be stored."""
    row: dict[str, Any] = {
        "run_id": None,
        "county": decision.county,
        "year": decision.year,
        "household_id": decision.household_id,
        "township": decision.township,
        "village": decision.village,
        "pack_hash": decision.pack.hash,
        **{name: decision.engine_facts[name] for name in HOUSEHOLD_FIELDS},
        "bases": decision_causes.as_text({c.cause: to_fen(c.base) for c in decision.causes}),
        "paid_before": decision_causes.as_text({c.cause: to_fen(paid_before.get(c.cause, ZERO))
                                                for c in decision.causes}),
        "rules": ",".join(rule.id for rule in decision.rules),
        "group": decision.group,
        "outcome": decision.outcome,
        "amounts": decision_causes.as_text({c.cause: to_fen(c.increment) for c in decision.causes}),
        "layout": DECISION_LAYOUT,
        "payout": to_fen(decision.payout),
        "fee": to_fen(decision.fee),
        "document": document,
        "recorded_at": (at or queries.now()).astimezone(dt.UTC),
    }
    return append_one(session, DecisionRecord, decision.county, row, lock="decisions")


def store_check(session: Session, decision: Decision, household: Household, at: dt.datetime | None = None) -> int:
    """Store a single check: the decision, the facts it was made on, what was paid before, the document."""
    return store_decision(session, decision, {c.cause: c.paid_before for c in decision.causes},
                          document=household.to_document(), at=at)


@dataclass(frozen=True)
class StoredCheck:
    id: int
    decision: Decision


def check(session: Session, actor: Actor, household: Household, *, pack_dir: Path | None = None,
          at: dt.datetime | None = None) -> StoredCheck:
    """POST /v1/checks: decide a household of the user's county and store the decision."""
    if actor.role not in CHECKERS:
        raise NotAllowed(f"a user with role {actor.role} may not check households")
    if household.county != actor.county:
        raise NotAllowed(f"the household is in county {household.county}; {actor.name} works in {actor.county}")
    validate_household(household)
    pack = pack_for(household.year, pack_dir)
    decision = decide(household, pack)
    PACKS.ensure_stored(session, pack)
    return StoredCheck(store_check(session, decision, household, at), decision)


def pack_for(year: int, pack_dir: Path | None) -> Pack:
    try:
        return PACKS.for_year(year, pack_dir)
    except NoPackForYear as exc:
        raise DocumentError(f"year: {exc}", field="year") from None


# --- reading and replaying stored decisions ----------------------------------------------------------

def _record(session: Session, actor: Actor, decision_id: int) -> DecisionRecord:
    return in_county(session.get(DecisionRecord, decision_id), actor, f"decision {decision_id}")


def decision_view(session: Session, actor: Actor, decision_id: int) -> dict[str, Any]:
    """A stored decision as auditors read it: the facts, what was paid before, the amounts, the rules,
    the pack, the document (single checks), and its place in the county's chain."""
    record = _record(session, actor, decision_id)
    return {
        "id": record.id,
        "run_id": record.run_id,
        "county": record.county,
        "year": record.year,
        "household_id": record.household_id,
        "township": record.township,
        "village": record.village,
        "facts": {**{name: yuan(getattr(record, name)) if kind == "money" else getattr(record, name)
                     for name, kind in HOUSEHOLD_FIELDS.items()},
                  **{f"{cause}_base": yuan(value) for cause, value in decision_causes.of(record.bases).items()}},
        "paid_before": {cause: yuan(value) for cause, value in decision_causes.of(record.paid_before).items()},
        "group": record.group,
        "outcome": record.outcome,
        "amounts": {**{cause: yuan(value) for cause, value in decision_causes.of(record.amounts).items()},
                    "payout": yuan(record.payout), "fee": yuan(record.fee)},
        "rules": record.rules.split(",") if record.rules else [],
        "pack_hash": record.pack_hash,
        "document": record.document,
        "recorded_at": iso_utc(record.recorded_at),
        "chain": {"seq": record.seq, "prev_hash": record.prev_hash, "record_hash": record.record_hash},
    }


def replay(session: Session, actor: Actor, decision_id: int) -> dict[str, Any]:
    """Re-decide a stored decision's facts under the pack that made it: identical, or what differs."""
    from fangpin.services.replay import replay_decision

    if actor.role not in REPLAYERS:
        raise NotAllowed(f"a user with role {actor.role} may not replay decisions (auditors do)")
    _record(session, actor, decision_id)
    result = replay_decision(session, decision_id)
    differences = [
        {key: (yuan(value) if key in ("before", "after", "difference") and isinstance(value, int) else value)
         for key, value in row.items()}
        for row in result.diff.to_dicts()
    ]
    return {
        "decision_id": decision_id,
        "identical": result.identical,
        "pack_before": {"id": result.pack_before.id, "hash": result.pack_before.hash},
        "pack_after": {"id": result.pack_after.id, "hash": result.pack_after.hash},
        "stored_digest": result.stored_digest,
        "replayed_digest": result.replayed_digest,
        "differences": differences,
    }
