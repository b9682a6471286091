"""Inserting many rows fast, inside the session's transaction: COPY on PostgreSQL, executemany on SQLite.

The ORM's executemany builds a parameter dict per row; a million decisions then take minutes. Here the
rows go straight to the driver: as CSV (written by polars, nulls empty, empty strings quoted, which is
PostgreSQL's CSV convention) into COPY, or as tuples into sqlite3's executemany, with each column's
SQLAlchemy bind processor applied so the stored form is what the ORM itself would have written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session


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
    processors = []
    for name in columns:
        processor = table.__table__.c[name].type.bind_processor(dialect)
        processors.append(processor)
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f'"{name}"' for name in columns)
    statement = f'INSERT INTO "{table.__tablename__}" ({names}) VALUES ({placeholders})'
    if any(processors):
        cache: list[dict[Any, Any]] = [{} for _ in columns]

        def processed(row: tuple[Any, ...]) -> tuple[Any, ...]:
            values = list(row)
            for index, processor in enumerate(processors):
                if processor is not None and values[index] is not None:
                    key = values[index] if not isinstance(values[index], dict | list) else id(values[index])
                    seen = cache[index]
                    if key not in seen:
                        seen[key] = processor(values[index])
                    values[index] = seen[key]
            return tuple(values)

        rows: Iterator[tuple[Any, ...]] = (processed(row) for row in frame.iter_rows())
    else:
        rows = frame.iter_rows()
    cursor = raw.cursor()
    try:
        cursor.executemany(statement, rows)
    finally:
        cursor.close()
