"""The lock of a county's chain, held until the transaction ends, the same on both databases.

Every writer that extends a chain, a single check as much as a screening run's hundred thousand rows, takes
the chain's lock before it reads the chain's end, so writers append one after the other instead of colliding
on the chain's unique (county, seq) key. Locks are taken in one order, so two writers never wait on each
other: ``packs`` (only to store a pack not stored yet), ``claim_events``, ``decisions``, ``payments``.

PostgreSQL: a transaction-level advisory lock per chain and county (``lock_key``); other counties' writers
go on. SQLite: one writer at a time anyway; the database's write lock (``BEGIN IMMEDIATE``), taken before
anything is read so the chain's end is read under it, and before it a process-wide and file-wide writer lock
(``_SqliteWriters``) that waiting writers sleep on in the kernel.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

ORDER = ("packs", "claim_events", "decisions", "payments")  # the order writers take the locks in


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


def lock_key(chain: str, county: str) -> int:
    """The advisory lock's key on PostgreSQL: 64 bits of a hash of the chain and county."""
    digest = hashlib.sha256(f"fangpin:{chain}:{county}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_chain(session: Session, chain: str, county: str) -> None:
    """Serialise the writers of one county's chain until the transaction ends (see the module's docstring).
    On SQLite the writer lock is taken before a connection is, so waiting writers do not hold the pool's
    connections; a transaction that wrote before taking it keeps the write lock it holds already."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(chain, county)})
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

