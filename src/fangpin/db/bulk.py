"""Inserting many rows fast, inside the session's transaction: COPY on PostgreSQL, executemany on SQLite.

The ORM's executemany builds a parameter dict per row; a million decisions then take minutes. Here the
rows go straight to the driver: as CSV (written by polars, nulls empty, empty strings quoted, which is
PostgreSQL's CSV convention) into COPY, or as tuples into sqlite3's executemany, with each column's
SQLAlchemy bind processor applied so the stored form is what the ORM itself would have written.
"""

from __future__ import annotations

import gc
from typing import Any

import polars as pl
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

_CHUNK = 100_000


def bulk_insert(session: Session, table: Any, frame: pl.DataFrame) -> None:
    """Insert the frame's rows; driver errors come out as SQLAlchemy's, as from any other statement."""
    if frame.is_empty():
        return
    connection = session.connection()
    dbapi = connection.dialect.loaded_dbapi
    try:
        _insert(connection, table, frame)
    except dbapi.IntegrityError as exc:
        raise sa_exc.IntegrityError(f"bulk insert into {table.__tablename__}", None, exc) from exc
    except dbapi.OperationalError as exc:
        raise sa_exc.OperationalError(f"bulk insert into {table.__tablename__}", None, exc) from exc


def _insert(connection: Any, table: Any, frame: pl.DataFrame) -> None:
    columns = list(frame.columns)
    dialect = connection.dialect
    raw = connection.connection.driver_connection
    if dialect.name == "postgresql":
        names = ", ".join(f'"{name}"' for name in columns)
        with raw.cursor() as cursor, cursor.copy(
            f'COPY "{table.__tablename__}" ({names}) FROM STDIN WITH (FORMAT csv)'
        ) as copy:
            for start in range(0, frame.height, 200_000):
                copy.write(frame.slice(start, 200_000).write_csv(include_header=False))
        return
    # Datetimes become the text SQLAlchemy's SQLite dialect stores (UTC, no offset), column-wise; any other
    # type with a bind processor is converted through it, once per distinct value.
    frame = frame.with_columns(
        pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.to_string("%Y-%m-%d %H:%M:%S.%6f")
        if dtype == pl.Datetime and getattr(dtype, "time_zone", None)
        else pl.col(name).dt.to_string("%Y-%m-%d %H:%M:%S.%6f")
        for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)
    )
    processors = [
        None if isinstance(frame.schema[name], pl.Datetime | pl.String | pl.Int64 | pl.Int32 | pl.Boolean | pl.Null)
        else table.__table__.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    ]
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
