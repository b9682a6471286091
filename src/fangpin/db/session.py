"""Database engines and sessions; a new database is migrated to the newest schema on first use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from fangpin.private import private_file

MIGRATIONS = Path(__file__).parent / "migrations"
_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()
SQLITE_PAGE_SIZE = 16384  # bytes a page of a new SQLite database
SQLITE_WAL_KEEP = 64 * 2**20  # bytes of write-ahead log kept on disk once a large transaction is checkpointed


def normalise_url(url: str) -> str:
    """Plain postgresql:// URLs use psycopg 3, the driver fangpin installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def _private_sqlite_file(url: str) -> None:
    """A new SQLite database file is created owner-only (0600; its -wal and -shm files take its mode)."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        private_file(Path(database))


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            # A new database's pages (before anything is written; an existing one keeps its own). A
            # screening run writes its decisions in one transaction that spills pages to the write-ahead log
            # as it goes, and SQLite looks each spilled page up in the log's index, whose cost grows with the
            # log: 16 KiB pages make the log a quarter as many frames (docs/scaling.md, "SQLite's pages").
            cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB: a million-row insert keeps its indexes in memory
            # a screening run's transaction grows the log to about the size of what it stores (5 GB at 5M
            # households); once checkpointed, the log is cut back to this at the next commit rather than
            # kept at its largest for as long as a server or worker process keeps the database open
            cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_KEEP}")
            cursor.close()

        return engine
    # pre_ping: a connection the server dropped (it was restarted) is replaced, not handed to a request
    return create_engine(url, pool_pre_ping=True)


def get_engine(url: str, *, migrate: bool = True) -> Engine:
    """One engine per URL per process; migrated to head on first use."""
    url = normalise_url(url)
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            if migrate:
                upgrade(engine, url)
            _ENGINES[url] = engine
        return engine


def upgrade(engine: Engine, url: str, revision: str = "head") -> None:
    config = alembic_config(url)
    with engine.begin() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current == ScriptDirectory.from_config(config).get_current_head() and revision == "head":
            return
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


_BUSY = ("database is locked", "database table is locked", "deadlock detected", "lock timeout",
         "could not obtain lock", "canceling statement due to lock timeout", "could not serialize access")


def unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached (down, restarting, refusing connections), as
    opposed to busy (a lock waited on too long) or a refused write: every entrypoint answers it as 503."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free
        return True
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):  # the driver's own, used directly
        return not any(busy in str(exc).lower() for busy in _BUSY)  # by request_log's pipelined commit
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.OperationalError):
        message = str(exc.orig).lower()
        return not any(busy in message for busy in _BUSY)
    return False


def busy(exc: BaseException) -> bool:
    """A lock waited on too long (503, try again), not an unreachable database."""
    return isinstance(exc, sa_exc.OperationalError) and not unavailable(exc)


def dispose_all() -> None:
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
