"""Walking the per-county hash chains, as ``fangpin audit verify`` does, on one consistent snapshot.

A chain and its recorded heads are read together from one snapshot of the database (``snapshot``): records
appended while the walk goes on are not seen, neither they nor their heads, so writers working meanwhile
never make an intact chain look broken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangpin.audit.chain import GENESIS, record_hash
from fangpin.audit.keys import ChainKey
from fangpin.db.chained import CHAINS, anchor_values, chained_columns, payload
from fangpin.db.models import ChainAnchor, ChainHead


@contextmanager
def snapshot(session: Session) -> Iterator[Session]:
    """A read-only session on its own connection that sees the database as it was at its first read, for
    as long as it lasts. PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite (WAL): one read
    transaction, begun explicitly (Python's sqlite3 would run every SELECT in a transaction of its own).
    ``session``'s own transaction is left alone; an in-memory SQLite database, which no other connection
    can see, is read through ``session`` itself."""
    engine = session.get_bind().engine
    dialect = engine.dialect.name
    if dialect == "sqlite" and engine.url.database in (None, "", ":memory:"):
        yield session
        return
    connection = engine.connect()
    try:
        if dialect == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        elif dialect == "sqlite":
            connection.exec_driver_sql("BEGIN")
        with Session(bind=connection) as reading:
            yield reading
    finally:
        connection.rollback()
        connection.close()


def _id(value: object) -> int | str:
    return value if isinstance(value, str) else int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Break:
    chain: str
    county: str
    seq: int
    record_id: int | str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.chain} of county {self.county}{f', record seq {self.seq}' if self.seq else ''}"
        return f"{where}{f' (id {self.record_id})' if self.record_id is not None else ''}: {self.problem}"


def walk(session: Session, chain: str, key: Callable[[], ChainKey]) -> Iterator[Break]:
    """Every break in one chain, county by county: altered, removed, or inserted out of order. The heads and
    the records must come from one snapshot (read ``session`` inside ``snapshot``), or records appended
    between the two reads look like records removed from the chain's end.

    Records up to the county's anchor (a chain written before keys) are checked with plain sha256 and must
    end in the anchored hash; every other record with HMAC-SHA256 under ``key()`` (asked for only when a
    record or anchor needs it)."""
    model = CHAINS[chain]
    names = chained_columns(model)
    extra = ["document_sha256"] if "document_sha256" in model.__table__.c else []
    columns = [model.__table__.c[name] for name in dict.fromkeys(("id", "prev_hash", "record_hash", *names, *extra))]
    anchors: dict[str, tuple[int, str]] = {}
    bad_anchors: set[str] = set()
    for county, seq, anchored, mac in session.execute(
        select(ChainAnchor.county, ChainAnchor.seq, ChainAnchor.record_hash, ChainAnchor.mac)
        .where(ChainAnchor.chain == chain)
    ):
        if not key().verify(anchor_values(chain, county, seq, anchored), mac):
            yield Break(chain, county, int(seq), None, "its anchor (where the plain-sha256 records end) was "
                        "altered, or the chain key is not the one it was written with")
            bad_anchors.add(county)
            continue
        anchors[county] = (int(seq), str(anchored))
    heads: dict[str, tuple[int, str]] = {}
    for county, seq, head_hash in session.execute(
        select(ChainHead.county, ChainHead.seq, ChainHead.record_hash).where(ChainHead.chain == chain)
    ):
        if seq >= heads.get(county, (0, ""))[0]:
            heads[county] = (int(seq), str(head_hash))
    counties = sorted(set(heads) | set(anchors)
                      | set(session.scalars(select(model.county).distinct())))  # type: ignore[attr-defined]
    for county in counties:
        if county in bad_anchors:
            continue
        expected_seq, previous = 1, GENESIS
        broken = False
        plain_until, anchored_hash = anchors.get(county, (0, ""))
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
                    yield Break(chain, county, expected_seq, _id(values["id"]), problem)
                    broken = True
                    break
                if values["prev_hash"] != previous:
                    yield Break(chain, county, seq, _id(values["id"]),
                                "does not link to the record before it (inserted or reordered)")
                    broken = True
                    break
                keyed = seq > plain_until
                computed = (key().link(previous, payload(model, dict(values))) if keyed
                            else record_hash(previous, payload(model, dict(values), keyed=False)))
                if computed != values["record_hash"] or (seq == plain_until and computed != anchored_hash):
                    yield Break(chain, county, seq, _id(values["id"]),
                                "its content was altered after it was stored" if keyed or seq < plain_until
                                else "its content was altered after it was stored (or it is not the anchored end "
                                "of the plain-sha256 records)")
                    broken = True
                    break
                previous = values["record_hash"]
                expected_seq += 1
        finally:
            rows.close()
        if broken:
            continue
        if expected_seq - 1 < plain_until:
            yield Break(chain, county, expected_seq, None, f"the chain ends at seq {expected_seq - 1} but its "
                        f"plain-sha256 records were anchored up to seq {plain_until} (records removed)")
            continue
        head = heads.get(county)
        if head is not None and (head[0] != expected_seq - 1 or head[1] != previous):
            yield Break(chain, county, expected_seq, None,
                        f"the chain ends at seq {expected_seq - 1} but was recorded as reaching seq {head[0]} "
                        "(records removed from its end)")
