"""Appending to the per-county hash chains of decisions, payments and claim events: the one appender.

A record's payload is its chained columns in table order, each written as text (``\\N`` for null, ``\\`` and
``|`` escaped in strings, datetimes as UTC ISO without offset) and joined with ``|``. The same text is built
column-wise for bulk appends (``payload_expr``) and row by row for single appends and for verification
(``payload``); a test holds the two equal.

Every append, of one row (a check, a claim step) or of a whole frame (a screening run), goes through this
module and first takes the chain's lock (``db.locks.lock_chain``), then reads the chain's end, links and
inserts the rows, and records the new head in ``chain_heads``, all in the caller's transaction. So a
screening run and API checks storing into the same county wait for each other instead of colliding on the
chain's sequence. The API's checks on PostgreSQL are appended by group commit (``db.grouped``), with this
module's lock, payload and hash.

Record hashes are keyed: HMAC-SHA256 with the chain key, a secret kept outside the database
(``fangpin.audit.keys``), so one who can rewrite the database but not read the key cannot recompute an altered
chain. Chains written before keys (fangpin 0.1 and 0.2, migration 0007) keep their plain sha256 up to an
anchor (``chain_anchors``, signed with the key); every record after it is keyed. A personal field
(``__personal__``: a decision's household document) enters a keyed record's payload as its sha256, so it can
be cleared (``fangpin runs purge``, its digest kept beside it) while the chain still verifies. A model may
name its chained columns (``__chained__``) when others of its columns legitimately change (a user's token),
and the chained columns it gained after records were hashed (``__chained_later__``: a fund input's day,
purpose and correction, migration 0009), which enter only the payloads of records that have any of them.

Length: over 300 lines because the single-row and the column-wise payloads (and their keyed hashes) must
be built the same way, and are kept side by side so that a change to one is seen in the other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from weakref import WeakKeyDictionary

import polars as pl
from sqlalchemy import Connection, Engine, Table, bindparam, func, literal, select
from sqlalchemy.orm import Session

from fangpin.audit.chain import GENESIS, canonical, plain
from fangpin.audit.keys import ChainKey, key_path, load_key
from fangpin.config import get_settings
from fangpin.db import decision_causes, queries
from fangpin.db.bulk import bulk_insert_parts
from fangpin.db.claims_models import ClaimEvent, FundInput, User
from fangpin.db.locks import lock_chain, lock_key
from fangpin.db.models import Base, ChainAnchor, ChainHead, DecisionRecord, Payment, Run

CHAINS: dict[str, type[Base]] = {"decisions": DecisionRecord, "payments": Payment, "claim_events": ClaimEvent,
                                 "runs": Run, "fund_inputs": FundInput, "users": User}
_UNCHAINED = frozenset({"id", "prev_hash", "record_hash", "document_sha256"})
_HASH_SLICE = 100_000  # rows whose payloads are turned into Python strings at once (``append_frames``)


def chained_columns(model: type[Base]) -> list[str]:
    explicit: tuple[str, ...] | None = getattr(model, "__chained__", None)
    if explicit is not None:
        return list(explicit)
    return [column.name for column in model.__table__.columns if column.name not in _UNCHAINED]


def _later(model: type[Base]) -> tuple[str, ...]:
    """Chained columns a model gained after records were hashed without them (``__chained_later__``)."""
    return tuple(getattr(model, "__chained_later__", ()))


def _hashed_columns(model: type[Base], values: dict[str, Any]) -> list[str]:
    """The chained columns of one record's payload: a record that has none of the columns its chain gained
    later (written before them) is hashed without them, as it was; one that has any, with all of them. So
    clearing them on a newer record, or setting one on an older, changes its payload: the chain breaks."""
    later = _later(model)
    names = chained_columns(model)
    if later and all(values.get(name) is None for name in later):
        return [name for name in names if name not in later]
    return names


def _personal(model: type[Base]) -> frozenset[str]:
    return frozenset(getattr(model, "__personal__", ()))


# --- the key ------------------------------------------------------------------------------------------

_KEYS: WeakKeyDictionary[Engine, ChainKey] = WeakKeyDictionary()


def chain_key(bind: Session | Connection | Engine, *, create: bool = True, migrating: bool = False) -> ChainKey:
    """The chain key of the database ``bind`` is on (read once per engine). Generated on first use when
    ``create``, that is while nothing is chained yet (no chain head recorded; or ``migrating`` chains written
    before keys): a key file gone missing later is an error, never silently replaced."""
    engine = bind.get_bind().engine if isinstance(bind, Session) else bind.engine
    key = _KEYS.get(engine)
    if key is None:
        path = key_path(get_settings(), engine.url.render_as_string(hide_password=False))
        if create and not migrating and not path.exists():
            connection = bind.connection() if isinstance(bind, Session) else bind
            if isinstance(connection, Engine):
                with connection.connect() as opened:
                    create = opened.execute(select(ChainHead.id).limit(1)).first() is None
            else:
                create = connection.execute(select(ChainHead.id).limit(1)).first() is None
        key = _KEYS[engine] = load_key(path, create=create)
    return key


def anchor_values(chain: str, county: str, seq: int, record_hash: str) -> dict[str, object]:
    return {"anchor": chain, "county": county, "seq": int(seq), "record_hash": record_hash}


def add_anchor(session: Session, chain: str, county: str, seq: int, record_hash: str, key: ChainKey) -> None:
    session.add(ChainAnchor(chain=chain, county=county, seq=seq, record_hash=record_hash,
                            mac=key.sign(anchor_values(chain, county, seq, record_hash))))


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


def digest(value: object) -> str:
    """A personal field as a keyed payload holds it: the sha256 of its text."""
    return hashlib.sha256(_text(value).encode()).hexdigest()


def _personal_text(value: object, stored_digest: object = None) -> str:
    if value is None:
        return str(stored_digest) if stored_digest else "\\N"
    return digest(value)


def payload(model: type[Base], values: dict[str, Any], *, keyed: bool = True) -> str:
    """A record's payload: ``keyed`` (every record since 0007) with its personal fields as digests, else as
    it was hashed before keys (with the values themselves)."""
    if model is DecisionRecord and values.get("layout") == 1:
        return _layout1_payload(values)
    personal = _personal(model) if keyed else frozenset()
    return "|".join(_personal_text(values.get(name), values.get(f"{name}_sha256")) if name in personal
                    else _text(values.get(name)) for name in _hashed_columns(model, values))


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
    if _later(model):
        raise ValueError(f"{model.__tablename__}: a chain whose columns grew is appended row by row (append_one)")
    parts = []
    personal = _personal(model)
    for name in chained_columns(model):
        if name in personal:  # a frame's records carry no personal document
            if name not in constants:
                raise ValueError(f"{name}: a personal field must be a constant of a chained frame")
            parts.append(pl.lit(_personal_text(constants[name])))
            continue
        if name in constants:
            parts.append(pl.lit(_text(constants[name])))
            continue
        column = pl.col(name).cast(pl.String)
        if not issubclass(_python_type(model, name), int):  # digits need no escaping
            column = column.str.replace_all("\\", "\\\\", literal=True).str.replace_all("|", "\\|", literal=True)
        parts.append(column.fill_null("\\N"))
    return pl.concat_str(parts, separator="|")




# --- the chain's end and its recorded head ----------------------------------------------------------

def chain_end(session: Session, model: type[Base], county: str) -> tuple[int, str]:
    """The seq and hash of the county's last record (0 and GENESIS for an empty chain)."""
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


def _link(model: type[Base], row: dict[str, Any], last: Any, key: ChainKey) -> None:
    seq, previous = (int(last[0]), str(last[1])) if last else (0, GENESIS)
    row["seq"] = seq + 1
    row["prev_hash"] = previous
    row["record_hash"] = key.link(previous, payload(model, row))


# --- appending many rows ------------------------------------------------------------------------------

def append_rows(session: Session, model: type[Base], county: str, rows: list[dict[str, Any]]) -> None:
    """Append rows, in their order, at the end of the county's chain of ``model``."""
    if len(rows) == 1:
        append_one(session, model, county, rows[0])
        return
    if not rows:
        return
    key = chain_key(session)
    lock_chain(session, model.__tablename__, county)
    seq, previous = chain_end(session, model, county)
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = previous
        previous = row["record_hash"] = key.link(previous, payload(model, row))
    queries.insert_rows(session, model, rows)
    _record_head(session, model, county, seq, previous)


@dataclass(frozen=True)
class Appended:
    """Where ``append_frames`` put its rows: the chain's seq before them, and the id of the first when the
    rows were given the ids ``first_id`` … ``first_id + rows - 1`` in their order (else None: read them)."""

    before: int
    first_id: int | None


def _top_id(session: Session, model: type[Base]) -> int | None:
    """The largest id of ``model``'s rows (0 when none), or None when its ids are not numbers given in order."""
    column = cast(Table, model.__table__).c.get("id")
    if column is None or column.autoincrement is not True or _python_type(model, "id") is not int:
        return None
    return int(session.execute(select(func.max(column))).scalar_one() or 0)


def append_frames(
    session: Session, model: type[Base], county: str, frames: Iterable[pl.DataFrame], constants: dict[str, object]
) -> Appended:
    """``append_rows`` for rows that come a frame at a time, in order (a stream too large to hold at once):
    payloads column-wise, one keyed hash per row, a bulk insert (``bulk_insert_parts``: COPY on PostgreSQL,
    one staging file on SQLite, each slice sent while the next is hashed), one chain-head record at the end;
    one frame (and one slice of payloads as Python strings) is held at a time. ``constants`` are the values
    the same for every row, in the form ``payload`` writes them. ``frames`` must not
    use the session (the rows are being inserted meanwhile).

    The rows' ids, when they are numbers the database gives in order (SQLite: one more than the largest; a
    sequence on PostgreSQL), are the largest id before the insert + 1 … + rows exactly when the largest id
    after it is that much greater: n distinct new ids, each above the largest before (and each at most the
    largest after), fill that range. Then the caller need not read them back (a screening run's payments
    name their decisions); when another writer took ids in between (PostgreSQL), ``first_id`` is None."""
    key = chain_key(session)
    lock_chain(session, model.__tablename__, county)
    seq, previous = chain_end(session, model, county)
    top = _top_id(session, model)
    end: list[int | str] = [seq, previous]
    unchained = [c.name for c in model.__table__.columns if c.name not in _UNCHAINED]
    kept = [name for name in unchained if name not in constants]

    def linked() -> Iterator[pl.DataFrame]:
        for frame in frames:
            for start in range(0, frame.height, _HASH_SLICE):
                first, last = int(end[0]) + 1, str(end[1])
                part = frame.slice(start, _HASH_SLICE)
                part = part.with_columns(pl.int_range(first, first + part.height, dtype=pl.Int64).alias("seq"))
                payloads = part.select(payload_expr(model, constants)).to_series().cast(pl.Binary).to_list()
                digests = pl.Series("record_hash", key.links(last, payloads), dtype=pl.Binary).cast(pl.String)
                end[0], end[1] = first - 1 + part.height, digests[-1]
                yield part.select(kept).with_columns(
                    pl.concat([pl.Series([last], dtype=pl.String), digests.head(-1)]).alias("prev_hash"),
                    digests,
                )

    inserted = bulk_insert_parts(session, model, linked(),
                                 {name: value for name, value in constants.items() if name in unchained})
    if not inserted:
        return Appended(seq, None)
    _record_head(session, model, county, int(end[0]), str(end[1]))
    after = _top_id(session, model) if top is not None else None
    return Appended(seq, top + 1 if top is not None and after == top + inserted else None)


# --- appending one row --------------------------------------------------------------------------------

_STATEMENTS: dict[str, tuple[Any, Any]] = {}
_INSERT_CHAIN_HEAD = cast(Table, ChainHead.__table__).insert()


def append_one(session: Session, model: type[Base], county: str, row: dict[str, Any]) -> Any:
    """Append one row at the end of the county's chain of ``model``, exactly as ``append_rows`` does (the
    same lock, payload, hash and chain-head record), in Core statements on the session's connection; the
    new row's id (an int, or a run's id). A single check or claim step appends one record: the ORM's bulk
    machinery costs more than the work.

    Every request of a county appends to the same chain, one after the other, so what happens while the
    lock is held is what limits how many a second: on PostgreSQL, the lock and the read of the chain's end
    go in one round trip (a pipeline; the read is its own statement, so it sees what the lock's last holder
    committed), and the row and its chain-head record in another (one statement)."""
    table = cast(Table, model.__table__)
    connection = session.connection()
    key = chain_key(connection)
    if connection.dialect.name == "postgresql":
        return _append_one_postgresql(connection, model, table, county, row, key)
    lock_chain(session, table.name, county)
    statements = _STATEMENTS.get(table.name)
    if statements is None:  # built once: building a statement costs more than executing it
        statements = _STATEMENTS[table.name] = (
            select(table.c.seq, table.c.record_hash).where(table.c.county == bindparam("county"))
            .order_by(table.c.seq.desc()).limit(1),
            table.insert().returning(table.c.id),
        )
    end, insert_row = statements
    last = connection.execute(end, {"county": county}).first()
    _link(model, row, last, key)
    new_id = connection.execute(insert_row, row).scalar_one()
    connection.execute(_INSERT_CHAIN_HEAD, {"chain": table.name, "county": county, "seq": row["seq"],
                                            "record_hash": row["record_hash"], "recorded_at": queries.now()})
    return new_id


_PG_STATEMENTS: dict[str, tuple[str, Any, list[str]]] = {}


def _append_one_postgresql(connection: Any, model: type[Base], table: Table, county: str,
                           row: dict[str, Any], key: ChainKey) -> Any:
    statements = _PG_STATEMENTS.get(table.name)
    if statements is None:  # built once, as above
        columns = [column.name for column in table.columns if column.name != "id" or not table.c.id.autoincrement
                   or issubclass(table.c.id.type.python_type, str)]
        statements = _PG_STATEMENTS[table.name] = (
            f'SELECT seq, record_hash FROM "{table.name}" WHERE county = %s ORDER BY seq DESC LIMIT 1',
            _insert_with_head(table, columns),
            columns,
        )
    end_sql, insert_with_head, columns = statements
    raw = connection.connection.driver_connection
    with raw.cursor() as locking, raw.cursor() as reading:
        with raw.pipeline():  # taking a lock this transaction holds already costs nothing more
            locking.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(table.name, county),))
            reading.execute(end_sql, (county,))
        last = reading.fetchone()
    _link(model, row, last, key)
    values = {**dict.fromkeys(columns), **row, "head_recorded_at": queries.now()}
    return connection.execute(insert_with_head, values).scalar_one()


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
