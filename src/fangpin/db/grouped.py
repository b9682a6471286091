"""Group commit of single appends to a county's chain, on PostgreSQL: the API's checks of one county, waiting
for the same chain's lock, are linked and committed together, in one transaction, and each waiter is told
its record's id only once that transaction has committed (durably: ``synchronous_commit`` as configured).

Why: appending one record holds the county's chain lock from reading the chain's end to COMMIT, so one county's
appends are one at a time, and what limits them is the round trips and the WAL flush made while the lock is
held. Here a process keeps one *lane* per (chain, county): whoever submits an append puts it in the lane's
queue; the lane's thread takes what is queued and, in two round trips on a connection it keeps while busy (and
``HOLD_SECONDS`` after, for the next batch) — (1) BEGIN, the chain's advisory lock and the read of its end, (2)
one statement inserting the records, their chain-head record and the rows that go with them (each check's
request-log line), and COMMIT, pipelined — appends them all. What queued while the lane waited for the lock
joins the batch once the lock is had (up to ``MAX_BATCH`` in all): the lock is what appenders wait for (another
process's lane holds it for its own batch), so whatever arrives meanwhile is committed with the batch instead of
waiting for the next one (at 16 clients on two workers, the batches doubled and a check's wait for its commit
fell by a third: docs/scaling.md). There is no waiting window: a batch is whatever queued during the previous
commit and the wait for the lock. Another process (the API's other workers, a screening run) takes the same
lock, as every appender does (``db.locks``). ``close`` (the API's shutdown) stores what is queued and stops the
lanes.

The records are linked exactly as ``db.chained.append_rows`` links them (the same payload and keyed hash,
one chain-head record for the batch's end), so ``fangpin audit verify`` cannot tell the two apart. A batch
that fails for another reason than an unreachable database is retried append by append, so one bad row
fails alone. Errors reach the waiters as SQLAlchemy's (``IntegrityError``, ``OperationalError``…), which the
API answers as it does any other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Engine, Table
from sqlalchemy import exc as sa_exc

from fangpin.audit.chain import GENESIS
from fangpin.db import queries
from fangpin.db.chained import chain_key, payload
from fangpin.db.locks import lock_key
from fangpin.db.models import Base, ChainHead
from fangpin.db.session import unavailable

MAX_BATCH = 256  # records per transaction: enough for any burst of one process's requests
IDLE_SECONDS = 2.0  # a lane's thread stays this long after its last append
# A lane keeps its connection this long after a batch for the next one: under load the next batch comes
# within milliseconds, and taking a connection from the pool again costs its check (a round trip)
HOLD_SECONDS = 0.1


@dataclass
class _Append:
    row: dict[str, Any]
    others: list[tuple[Table, dict[str, Any]]]
    future: Future[int] = field(default_factory=Future)


@dataclass
class _Lane:
    county: str
    wake: threading.Condition
    pending: list[_Append] = field(default_factory=list)
    running: bool = False


class GroupCommit:
    """The lanes of one chain (``model``) on one PostgreSQL engine, in this process."""

    def __init__(self, engine: Engine, model: type[Base]) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("group commit is for PostgreSQL; SQLite has one writer at a time anyway")
        self.engine = engine
        self.model = model
        self.table = cast(Table, model.__table__)
        self.batches = 0  # transactions committed, and records appended by them (for benchmarks and tests)
        self.appended = 0
        self._lanes: dict[str, _Lane] = {}
        self._guard = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closing = False
        quote = engine.dialect.identifier_preparer.quote
        self._columns = [column.name for column in self.table.columns if column.name != "id"
                         or not self.table.c.id.autoincrement or issubclass(self.table.c.id.type.python_type, str)]
        self._end = (f"SELECT seq, record_hash FROM {quote(self.table.name)} WHERE county = %s "
                     "ORDER BY seq DESC LIMIT 1")
        self._quote = quote
        self._statements: dict[tuple[str, tuple[str, ...], int, int], tuple[str, list[Any]]] = {}

    def submit(self, county: str, row: dict[str, Any],
               others: Iterable[tuple[Table, dict[str, Any]]] = ()) -> Future[int]:
        """Queue ``row`` for the end of the county's chain, with ``others`` (rows of other tables) to be
        committed in the same transaction; a future of the record's id, set once committed."""
        append = _Append(row, list(others))
        with self._guard:
            lane = self._lanes.get(county)
            if lane is None:
                lane = self._lanes[county] = _Lane(county, threading.Condition(self._guard))
            lane.pending.append(append)
            if lane.running:
                lane.wake.notify()
                return append.future
            lane.running = True
            thread = threading.Thread(target=self._run, args=(lane,), name=f"fangpin-group-commit-{county}",
                                      daemon=True)
            self._threads = [*(alive for alive in self._threads if alive.is_alive()), thread]
        thread.start()
        return append.future

    def close(self, timeout: float = 10.0) -> None:
        """Let every lane finish what is queued, give its connection back and stop (the API's shutdown):
        appends submitted after this are still stored, each lane then stopping when idle."""
        with self._guard:
            self._closing = True
            for lane in self._lanes.values():
                lane.wake.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def append(self, county: str, row: dict[str, Any], others: Iterable[tuple[Table, dict[str, Any]]] = ()) -> int:
        """``submit``, waiting for the commit."""
        return self.submit(county, row, others).result()

    # --- the lane's thread ---------------------------------------------------------------------------

    def _run(self, lane: _Lane) -> None:
        connection: Connection | None = None
        batch: list[_Append] = []
        try:
            while True:
                with self._guard:
                    if not lane.pending and connection is not None and not self._closing:
                        lane.wake.wait(HOLD_SECONDS)
                    idle = not lane.pending
                if idle and connection is not None:  # no next batch: the connection back to the pool
                    connection.close()
                    connection = None
                with self._guard:
                    if not lane.pending and not self._closing:
                        lane.wake.wait(IDLE_SECONDS)
                    if not lane.pending:
                        lane.running = False
                        return
                    batch, lane.pending = lane.pending[:MAX_BATCH], lane.pending[MAX_BATCH:]
                connection, outcomes = self._commit(connection, lane.county, batch, lane)
                for append, outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, BaseException):
                        append.future.set_exception(outcome)
                    else:
                        append.future.set_result(outcome)
                batch = []
        except BaseException as exc:  # never leave a request waiting for an answer
            _fail(batch, exc)
            with self._guard:
                lane.running = False
                left, lane.pending = lane.pending, []
            _fail(left, exc)
            raise
        finally:
            if connection is not None:
                connection.close()

    def _commit(self, connection: Connection | None, county: str, batch: list[_Append],
                lane: _Lane | None = None) -> tuple[Connection | None, list[int | Exception]]:
        """Append and commit the batch (each alone if together they fail): the connection to keep, if any,
        and each append's id or error. With ``lane``, what queued for it by the time the chain's lock is had
        joins ``batch`` (in place: the caller answers every append in it)."""
        try:
            if connection is None:
                connection = self.engine.connect()  # checked: a connection the server dropped is replaced
            ids: list[int | Exception] = list(self._store(connection, county, batch, lane))
        except Exception as exc:
            if connection is not None:
                if unavailable(exc):
                    connection.invalidate()  # not back into the pool
                connection.close()
                connection = None
            if len(batch) == 1 or unavailable(exc):
                return connection, [exc] * len(batch)
            outcomes: list[int | Exception] = []
            for append in batch:
                connection, alone = self._commit(connection, county, [append])
                outcomes += alone
            return connection, outcomes
        self.batches += 1
        self.appended += len(batch)
        return connection, ids

    def _store(self, connection: Connection, county: str, batch: list[_Append], lane: _Lane | None) -> list[int]:
        raw: Any = connection.connection.driver_connection
        try:
            return self._store_raw(raw, connection, county, batch, lane)
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):
                raw.rollback()
            raise sa_exc.DBAPIError.instance(None, None, exc, psycopg.Error,
                                             connection_invalidated=raw.closed) from exc

    def _store_raw(self, raw: Any, connection: Connection, county: str, batch: list[_Append],
                   lane: _Lane | None) -> list[int]:
        key = chain_key(self.engine)
        with raw.cursor() as locking, raw.cursor() as reading:
            with raw.pipeline():  # BEGIN, the lock, then the end: its own statement sees the last holder's commit
                locking.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.table.name, county),))
                reading.execute(self._end, (county,))
            last = reading.fetchone()
        if lane is not None:  # what queued while the lock was awaited: committed now, not after another wait
            with self._guard:
                room = MAX_BATCH - len(batch)
                batch += lane.pending[:room]
                del lane.pending[:room]
        seq, previous = (int(last[0]), str(last[1])) if last else (0, GENESIS)
        rows = [append.row for append in batch]
        for row in rows:
            seq += 1
            row["seq"] = seq
            row["prev_hash"] = previous
            previous = row["record_hash"] = key.link(previous, payload(self.model, row))
        others: dict[Table, list[dict[str, Any]]] = {}
        for append in batch:
            for table, values in append.others:
                others.setdefault(table, []).append(values)
        dialect = connection.dialect
        head = {"chain": self.table.name, "county": county, "seq": seq, "record_hash": previous,
                "recorded_at": queries.now()}
        parts = [(self.table, self._columns, rows), (cast(Table, ChainHead.__table__), list(head), [head]),
                 *((table, list(table_rows[0]), table_rows) for table, table_rows in others.items())]
        # One statement: the records, their chain-head record and the rows that go with them, each INSERT a
        # data-modifying WITH (PostgreSQL runs each exactly once), then COMMIT, pipelined: one round trip.
        # A raw cursor: the statement is written with PostgreSQL's own $n placeholders, so psycopg sends it
        # as it is. With %s it would parse every statement of more than 50 parameters again on each
        # execution (it caches only smaller ones), and a batch of records has 25 per record.
        with psycopg.RawCursor(raw) as appending:
            with raw.pipeline():
                appending.execute(*self._together(dialect, parts))
                raw.commit()
            ids = {int(found_seq): int(new_id) for new_id, found_seq in appending.fetchall()}
        return [ids[row["seq"]] for row in rows]

    def _together(self, dialect: Any,
                  parts: list[tuple[Table, list[str], list[dict[str, Any]]]]) -> tuple[str, list[Any]]:
        """The INSERTs of ``parts`` as one statement answering the first's ``id, seq``."""
        statements: list[str] = []
        values: list[Any] = []
        for index, (table, columns, rows) in enumerate(parts):
            sql, bound = self._insert(dialect, table, columns, rows, returning="id, seq" if index == 0 else "",
                                      first=len(values) + 1)
            statements.append(f"inserted{index} AS ({sql})")
            values += bound
        return f"WITH {', '.join(statements)} SELECT id, seq FROM inserted0", values

    def _insert(self, dialect: Any, table: Table, columns: list[str], rows: list[dict[str, Any]],
                returning: str = "", first: int = 1) -> tuple[str, list[Any]]:
        """One multi-row INSERT, its placeholders numbered from ``first``, its values bound as SQLAlchemy
        binds them (a JSON column as JSON)."""
        shape = (table.name, tuple(columns), len(rows), first)
        built = self._statements.get(shape)
        if built is None:  # one text per batch size: psycopg prepares each once it is used often
            width = len(columns)
            placeholders = ", ".join(
                "(" + ", ".join(f"${first + row * width + n}" for n in range(width)) + ")" for row in range(len(rows)))
            built = self._statements[shape] = (
                f"INSERT INTO {self._quote(table.name)} ({', '.join(self._quote(name) for name in columns)}) "
                f"VALUES {placeholders}{f' RETURNING {returning}' if returning else ''}",
                [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns],
            )
        sql, processors = built
        values = [process(row.get(name)) if process is not None else row.get(name)
                  for row in rows for name, process in zip(columns, processors, strict=True)]
        return sql, values


def _fail(batch: list[_Append], exc: BaseException) -> None:
    for append in batch:
        if not append.future.done():
            append.future.set_exception(exc)
