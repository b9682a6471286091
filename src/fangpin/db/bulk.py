"""Inserting many rows fast, inside the session's transaction: COPY on PostgreSQL; on SQLite, a staging file.

The ORM's executemany builds a parameter dict per row; a million decisions then take minutes. Here the
rows go straight to the driver. PostgreSQL: as CSV (written by polars, nulls empty, empty strings quoted,
which is PostgreSQL's CSV convention) into COPY. SQLite: a large frame is first written, column-wise from
its Arrow buffers, to a staging database file by the ADBC SQLite driver (outside the interpreter lock, and
outside the session's transaction: nothing else sees that file), which the session's connection then
attaches and copies from with one ``INSERT … SELECT`` inside its own transaction, so the rows still commit
or roll back with everything else; the file is detached and removed when the connection goes back to the
pool. Small frames, and columns that need a SQLAlchemy bind processor, go through sqlite3's executemany
with each column's processor applied, so the stored form is what the ORM itself would have written.

Rows come a part at a time (``bulk_insert_parts``; ``bulk_insert`` is one part): one COPY, or one staging
file every part is appended to, so rows too many to hold at once are stored as one frame would be.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import polars as pl
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

_CHUNK = 100_000
STAGE_MIN_ROWS = 2_000  # below this, executemany is as quick and needs no staging file
_STAGED = "fangpin_staged"  # connection-record info key: (alias, path) of files attached by this connection


def bulk_insert(session: Session, table: Any, frame: pl.DataFrame,
                constants: Mapping[str, object] | None = None) -> None:
    """Insert the frame's rows; driver errors come out as SQLAlchemy's, as from any other statement.
    ``constants``: columns with one value for every row (a run's id, the time of recording); a staged SQLite
    insert binds them once instead of staging a million copies. ``bulk_insert_parts`` of one part."""
    bulk_insert_parts(session, table, [frame], constants)


def _insert(connection: Any, table: Any, frame: pl.DataFrame) -> None:
    """A few rows by executemany, each column through its bind processor (what the ORM would store)."""
    processors = _processors(connection.dialect, table, frame)
    _insert_many(connection.connection.driver_connection, table, _for_sqlite(frame),
                 [processors.get(name) for name in frame.columns])


_PLAIN = (pl.Datetime, pl.String, pl.Int64, pl.Int32, pl.UInt32, pl.Boolean, pl.Null)


def _processors(dialect: Any, table: Any, frame: pl.DataFrame) -> dict[str, Any]:
    """SQLAlchemy's bind processors of the columns that need one (not text, integers, flags, datetimes)."""
    found = {}
    for name, dtype in frame.schema.items():
        if not isinstance(dtype, _PLAIN):
            processor = table.__table__.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                found[name] = processor
    return found


def _for_sqlite(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetimes as the text SQLAlchemy's SQLite dialect stores (UTC, no offset), column-wise."""
    return frame.with_columns(
        pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.to_string("%Y-%m-%d %H:%M:%S.%6f")
        if getattr(dtype, "time_zone", None)
        else pl.col(name).dt.to_string("%Y-%m-%d %H:%M:%S.%6f")
        for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)
    )


def _for_adbc(frame: pl.DataFrame) -> pl.DataFrame:
    """ADBC writes booleans as integers; an all-null column needs a type."""
    return frame.with_columns(
        *(pl.col(name).cast(pl.Int64) for name, dtype in frame.schema.items() if dtype == pl.Boolean),
        *(pl.col(name).cast(pl.String) for name, dtype in frame.schema.items() if dtype == pl.Null),
    )


def _sqlite_value(value: object) -> object:
    """A constant as SQLAlchemy's SQLite dialect stores it (a datetime: UTC text without offset)."""
    if isinstance(value, dt.datetime):
        plain = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return plain.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


@contextlib.contextmanager
def _staging(connection: Any) -> Iterator[tuple[str, Any]]:
    """A scratch SQLite file to stage rows in (its alias and an ADBC cursor on it), attached to
    ``connection`` under that alias once the block has filled it; deleted if anything fails, else when the
    connection is checked in (``_detach_on_checkin``)."""
    _detach_on_checkin(connection.engine)
    handle, path = tempfile.mkstemp(prefix="fangpin-stage-", suffix=".sqlite")
    os.close(handle)
    alias = f"stage_{uuid.uuid4().hex[:12]}"
    try:
        with adbc_sqlite.connect(path, autocommit=True) as staging, staging.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=OFF")  # a scratch file: if anything fails, it is thrown away
            cursor.execute("PRAGMA synchronous=OFF")
            yield alias, cursor
        connection.connection.driver_connection.execute(f"ATTACH DATABASE ? AS {alias}", (path,))
    except BaseException:
        os.unlink(path)
        raise
    connection.connection.info.setdefault(_STAGED, []).append((alias, path))


_WATCHED: set[int] = set()


def _detach_on_checkin(engine: Any) -> None:
    """Staging files stay attached until the transaction ends (SQLite cannot detach inside one); the
    connection detaches and removes them when it returns to the pool, after its commit or rollback."""
    if id(engine) in _WATCHED:
        return
    _WATCHED.add(id(engine))

    @event.listens_for(engine, "checkin")
    def _detach(dbapi_connection: Any, record: Any) -> None:
        for alias, path in record.info.pop(_STAGED, []):
            if dbapi_connection is not None:
                # a connection being invalidated may refuse: its file goes all the same
                with contextlib.suppress(Exception):
                    dbapi_connection.execute(f"DETACH DATABASE {alias}")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _insert_many(raw: Any, table: Any, frame: pl.DataFrame, processors: list[Any]) -> None:
    columns = list(frame.columns)
    names = ", ".join(f'"{name}"' for name in columns)
    statement = f'INSERT INTO "{table.__tablename__}" ({names}) VALUES ({", ".join("?" for _ in columns)})'
    converted: list[dict[str, Any]] = [{} for _ in columns]

    def processed(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for index, processor in enumerate(processors):
            value = values[index]
            if processor is not None and value is not None:
                key = repr(value)
                if key not in converted[index]:
                    converted[index][key] = processor(value)
                values[index] = converted[index][key]
        return tuple(values)

    cursor = raw.cursor()
    collecting = gc.isenabled()
    gc.disable()  # a million fresh tuples would trigger the cyclic collector again and again, for nothing
    try:
        for start in range(0, frame.height, _CHUNK):
            rows: list[tuple[Any, ...]] = frame.slice(start, _CHUNK).rows()
            cursor.executemany(statement, [processed(row) for row in rows] if any(processors) else rows)
    finally:
        cursor.close()
        if collecting:
            gc.enable()


def bulk_insert_parts(session: Session, table: Any, parts: Iterable[pl.DataFrame],
                      constants: Mapping[str, object] | None = None) -> int:
    """Insert rows that come a frame at a time (slices of a stream too large to hold at once),
    all with the same columns: one COPY on PostgreSQL; on SQLite one staging file that every part is
    appended to, then one ``INSERT … SELECT`` (a few rows: executemany). Only one part is held at a time
    (and PostgreSQL's writer queue). ``parts`` must not use the session: the connection is busy meanwhile.
    The number of rows inserted."""
    connection = session.connection()
    dbapi = connection.dialect.loaded_dbapi
    constants = dict(constants or {})
    stream = iter(parts)
    try:
        if connection.dialect.name == "postgresql":
            return _copy_parts(connection, table, stream, constants)
        return _insert_parts_sqlite(connection, table, stream, constants)
    except dbapi.IntegrityError as exc:
        raise sa_exc.IntegrityError(f"bulk insert into {table.__tablename__}", None, exc) from exc
    except dbapi.OperationalError as exc:
        raise sa_exc.OperationalError(f"bulk insert into {table.__tablename__}", None, exc) from exc


def _with_constants(frame: pl.DataFrame, constants: Mapping[str, object]) -> pl.DataFrame:
    return frame.with_columns(pl.lit(value).alias(name) for name, value in constants.items())


def _copy_parts(connection: Any, table: Any, parts: Iterator[pl.DataFrame], constants: dict[str, object]) -> int:
    first = next((part for part in parts if part.height), None)
    if first is None:
        return 0
    raw = connection.connection.driver_connection
    first = _with_constants(first, constants)
    names = ", ".join(f'"{name}"' for name in first.columns)
    count = 0
    with raw.cursor() as cursor, cursor.copy(
        f'COPY "{table.__tablename__}" ({names}) FROM STDIN WITH (FORMAT csv)', writer=QueuedLibpqWriter(cursor)
    ) as copy:
        for part in itertools.chain([first], (_with_constants(part, constants) for part in parts)):
            count += part.height
            for start in range(0, part.height, 200_000):
                copy.write(part.slice(start, 200_000).write_csv(include_header=False))
    return count


def _insert_parts_sqlite(connection: Any, table: Any, parts: Iterator[pl.DataFrame],
                         constants: dict[str, object]) -> int:
    """A few rows (fewer than ``STAGE_MIN_ROWS`` in all, or columns that need a bind processor) by
    executemany, part by part; more by one staging file, every part ingested into it in turn."""
    held: list[pl.DataFrame] = []
    rows = 0
    for part in parts:  # what the first STAGE_MIN_ROWS rows decide
        if part.height:
            held.append(part)
            rows += part.height
        if rows >= STAGE_MIN_ROWS:
            break
    if not held:
        return 0
    staged = (rows >= STAGE_MIN_ROWS and not _processors(connection.dialect, table, held[0])
              and all(value is None or isinstance(value, str | int | dt.datetime) for value in constants.values()))
    if not staged:
        count = 0
        for part in itertools.chain(held, parts):
            if part.height:
                _insert(connection, table, _with_constants(part, constants))
                count += part.height
        return count
    count = 0
    columns: list[str] = []
    # each part is staged by a thread (ADBC lets go of the interpreter lock) while the next is made here
    with _staging(connection) as (alias, cursor), ThreadPoolExecutor(max_workers=1) as background:
        staged_part = None
        for part in itertools.chain(held, parts):
            if not part.height:
                continue
            ready = _for_adbc(_for_sqlite(part))
            if staged_part is not None:
                staged_part.result()
            staged_part = background.submit(cursor.adbc_ingest, "rows", ready, mode="append" if count else "create")
            columns = columns or list(ready.columns)
            count += part.height
        if staged_part is not None:
            staged_part.result()
    names = [f'"{name}"' for name in [*columns, *constants]]
    chosen = [f'r."{name}"' for name in columns] + ["?"] * len(constants)
    connection.connection.driver_connection.execute(
        f'INSERT INTO "{table.__tablename__}" ({", ".join(names)}) '
        f'SELECT {", ".join(chosen)} FROM {alias}.rows AS r ORDER BY r.rowid',
        tuple(_sqlite_value(value) for value in constants.values()))
    return count
