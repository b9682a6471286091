"""Tables. Money is integer fen (BigInteger, every amount column): exact on both databases.

Decisions, events and payments are append-only: no code path updates or deletes them (a correction is a
new event ledger, not an edit)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DECISION_LAYOUT = 2  # the per-cause columns as JSON objects; 1: one column per cause (fangpin 0.1)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Chained:
    """A record in its county's hash chain (``fangpin.audit.chain``): its position, and the hash linking
    it to the record before it."""

    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))


class ChainedLater(Chained):
    """``Chained`` on a table that had rows before it was chained (migration 0007 links them): the columns are
    nullable in the schema (SQLite cannot add a NOT NULL column without a default), and always set by the
    appender (``db.chained``)."""

    seq: Mapped[int] = mapped_column(BigInteger, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=True)
    record_hash: Mapped[str] = mapped_column(String(64), nullable=True)


class PackRecord(Base):
    """A rule pack's full content by hash, so any stored decision can be replayed under its own pack."""

    __tablename__ = "packs"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    pack_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    content: Mapped[dict[str, Any]]
    stored_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Run(ChainedLater, Base):
    """One screening of one county's data drop for one policy year; chained per county (its id and
    everything but ``purged_at``). ``purged_at``: when ``fangpin runs purge`` removed its result files and
    the personal data of its event ledger."""

    __tablename__ = "runs"
    __table_args__ = (Index("uq_runs_chain", "county", "seq", unique=True),)
    __chained__ = ("id", "county", "year", "pack_hash", "started_at", "finished_at", "drop_hash", "inputs",
                   "counts", "households", "payout", "fee", "seq")

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    county: Mapped[str] = mapped_column(String(12), index=True)
    year: Mapped[int] = mapped_column(Integer)
    pack_hash: Mapped[str] = mapped_column(ForeignKey("packs.hash"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    drop_hash: Mapped[str] = mapped_column(String(64), index=True)
    inputs: Mapped[list[Any]]
    counts: Mapped[dict[str, Any]]
    households: Mapped[int] = mapped_column(Integer)
    payout: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    purged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DecisionRecord(Chained, Base):
    """A decision with the exact engine facts and prior payments it was made on: enough to replay it.

    Facts are columns, not a document, so a million decisions store in seconds; a single check also keeps
    the household document it was given (``document``). The per-cause figures — each cause's base, what was
    paid before, what this decision pays — are the deciding pack's causes, so each is one column holding a
    JSON object in the pack's order (``{"illness":4500000,"schooling":0,…}``, integer fen; see
    ``db.decision_causes``). ``layout`` 1 marks decisions written by fangpin 0.1, which had a column per
    cause: their chain payload is still computed in that form (``db.chained``).

    ``document`` is personal data: a keyed record's payload holds its sha256, not the document, so
    ``fangpin runs purge`` can clear it, keeping the digest in ``document_sha256`` (not chained), while the
    chain still verifies."""

    __tablename__ = "decisions"
    __personal__ = ("document",)
    __table_args__ = (
        Index("ix_decisions_household", "county", "year", "household_id"),
        UniqueConstraint("county", "seq", name="uq_decisions_chain"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    # No index on run_id: a run's decisions are read whole (replay), and each index costs every bulk insert.
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    county: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[str] = mapped_column(String(64))
    township: Mapped[str | None] = mapped_column(String(100))
    village: Mapped[str | None] = mapped_column(String(100))
    pack_hash: Mapped[str] = mapped_column(ForeignKey("packs.hash"))
    # the facts
    status: Mapped[str] = mapped_column(String(20))
    members: Mapped[int] = mapped_column(Integer)
    per_capita_income: Mapped[int] = mapped_column(BigInteger)
    labour_capacity: Mapped[int] = mapped_column(Integer)
    housing_secure: Mapped[int] = mapped_column(Integer)
    bases: Mapped[str] = mapped_column(Text)
    paid_before: Mapped[str] = mapped_column(Text)
    # the decision
    rules: Mapped[str] = mapped_column(Text)
    group: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    amounts: Mapped[str] = mapped_column(Text)
    payout: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    layout: Mapped[int] = mapped_column(Integer, default=DECISION_LAYOUT)
    document_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)  # set when purged


class RunEvents(Base):
    """The events a run counted (new ones and corrections), as one Parquet file: the year's event ledger.

    Millions of events per run are written in a second this way, and read back whole when the next drop
    of the year is screened (for duplicates, corrections and cumulative bases). ``sha256`` is the file's
    digest, also recorded in the run's inputs, so ``fangpin audit verify`` detects an altered ledger."""

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    county: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RunEventPart(Base):
    """A run's event ledger in pieces (migration 0011): the Parquet file, cut into parts of at most
    ``LEDGER_PART_BYTES``, in order (``part`` from 0), so that neither storing nor reading it holds more
    than a part in a buffer of the database driver. The file is the parts' bytes joined in order, and its
    sha256 (``RunEvents.sha256``) is of those bytes. A run stored before keeps its file in ``RunEvents.data``
    and has no parts; a run stored since has ``RunEvents.data`` empty."""

    __tablename__ = "run_event_parts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


LEDGER_PART_BYTES = 32 << 20


class Payment(Chained, Base):
    """The ledger of what the fund paid per household, year and cause. The unique key makes a second
    payment computed from the same prior total impossible, whatever two processes do at once."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("county", "year", "household_id", "cause", "paid_before", name="uq_payment_once"),
        UniqueConstraint("county", "seq", name="uq_payments_chain"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    county: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[str] = mapped_column(String(64))
    cause: Mapped[str] = mapped_column(String(20))
    paid_before: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ChainHead(Base):
    """Where each chain ended after each append: a removed last record leaves its head pointing past the
    chain's end. Append-only like the chains themselves."""

    __tablename__ = "chain_heads"
    __table_args__ = (UniqueConstraint("chain", "county", "seq", name="uq_chain_heads"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    chain: Mapped[str] = mapped_column(String(40))
    county: Mapped[str] = mapped_column(String(12))
    seq: Mapped[int] = mapped_column(BigInteger)
    record_hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ChainAnchor(Base):
    """Where a chain written before keyed hashes (migration 0007) ended: records up to ``seq`` are linked by
    plain sha256, every later one by HMAC-SHA256 with the chain key. ``mac`` signs the anchor with the key, so
    one who cannot read the key cannot move it, nor make a keyed chain pass for a plain one."""

    __tablename__ = "chain_anchors"
    __table_args__ = (UniqueConstraint("chain", "county", name="uq_chain_anchors"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    chain: Mapped[str] = mapped_column(String(40))
    county: Mapped[str] = mapped_column(String(12))
    seq: Mapped[int] = mapped_column(BigInteger)
    record_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class ConsoleSession(Base):
    """One signed-in browser of the web console: whose it is, and until when it is valid (migration 0003).
    Only the sha256 of the session's id is stored, like the API's tokens, so a copy of the database opens no
    session. Signing out deletes it."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires", "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RunResults(Base):
    """What a run's result files are written from beyond its decisions (migration 0008): the run's summary
    (``run.json``), its rejected rows and who heads each household, stored in the run's own transaction, so
    ``fangpin report --run ID`` can write every result file again from the database alone. The two tables
    are Parquet files (zstd), like the event ledger."""

    __tablename__ = "run_results"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    rejections: Mapped[bytes] = mapped_column(LargeBinary)
    households: Mapped[bytes] = mapped_column(LargeBinary)


JOB_STATES = ("queued", "running", "done", "failed")


class JobRecord(Base):
    """A job started from the console (migration 0008; ``kind``, 0010): a screening (``screen``) or a policy
    simulation (``simulate``: its runs, pack and impact in ``params`` and ``result``), queued until a worker
    process claims it (``services.jobs``), one running job per county at a time (a partial unique index), its
    progress, the worker that runs it (``owner`` host:pid) and when that worker last said it was alive
    (``heartbeat_at``). ``drop_dir`` is the temporary folder holding a screening's upload (empty for a
    simulation); it is removed when the job ends, and by the next worker to start when the job's worker died."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_created", "state", "created_at"),
        Index("uq_jobs_one_running_per_county", "county", unique=True,
              sqlite_where=text("state = 'running'"), postgresql_where=text("state = 'running'")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    county: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10))
    user_name: Mapped[str] = mapped_column(String(100))
    files: Mapped[list[Any]] = mapped_column(JSON)
    drop_dir: Mapped[str] = mapped_column(Text)
    runs_dir: Mapped[str] = mapped_column(Text)
    pack_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    sources_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    already: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="screen", server_default="screen")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


import fangpin.db.claims_models  # noqa: E402, F401 - claims, users and the fund share this Base and its migrations
