"""keyed chains: record hashes keyed with the chain key; runs, users and fund inputs chained; purge columns

Chains written before (decisions, payments, claim events) keep their plain-sha256 records: each county's
chain gets an anchor at its current end, signed with the chain key (generated now if there is anything to
sign), and every record appended after it is keyed (``fangpin.db.chained``). Runs, users and fund inputs
become chains of their own: the rows already stored are linked now, keyed, per county in the order they
were stored. ``decisions.document_sha256`` keeps a purged document's digest; ``runs.purged_at`` marks a
purged run.

Downgrade drops all of it; records keyed meanwhile no longer verify under the older code.

Revision ID: 0007
Revises: 0008
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

_ANCHORED = ("decisions", "payments", "claim_events")
_NEW_CHAINS = {  # table: (its order of storing, its chained columns, as fangpin.db.chained computes them)
    "runs": ("finished_at, id", ("id", "county", "year", "pack_hash", "started_at", "finished_at", "drop_hash",
                                 "inputs", "counts", "households", "payout", "fee", "seq")),
    "users": ("id", ("name", "role", "county", "scope", "created_at", "seq")),
    "fund_inputs": ("id", ("county", "year", "amount", "recorded_by", "at", "seq")),
}


def upgrade() -> None:
    op.create_table(
        "chain_anchors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("chain", sa.String(40), nullable=False),
        sa.Column("county", sa.String(12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.UniqueConstraint("chain", "county", name="uq_chain_anchors"),
    )
    op.add_column("decisions", sa.Column("document_sha256", sa.String(64), nullable=True))
    op.add_column("runs", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    for table in _NEW_CHAINS:
        op.add_column(table, sa.Column("seq", sa.BigInteger(), nullable=True))
        op.add_column(table, sa.Column("prev_hash", sa.String(64), nullable=True))
        op.add_column(table, sa.Column("record_hash", sa.String(64), nullable=True))

    bind = op.get_bind()
    if any(bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()
           for table in (*_ANCHORED, *_NEW_CHAINS)):
        _sign_and_link(bind)
    for table in _NEW_CHAINS:
        op.create_index(f"uq_{table}_chain", table, ["county", "seq"], unique=True)


def _sign_and_link(bind: sa.Connection) -> None:
    from fangpin.audit.chain import GENESIS
    from fangpin.db import chained
    from fangpin.db.models import Base

    key = chained.chain_key(bind, create=True, migrating=True)
    anchors = sa.table("chain_anchors", sa.column("chain"), sa.column("county"), sa.column("seq"),
                       sa.column("record_hash"), sa.column("mac"))
    heads = sa.table("chain_heads", sa.column("chain"), sa.column("county"), sa.column("seq"),
                     sa.column("record_hash"), sa.column("recorded_at", sa.DateTime(timezone=True)))
    for table in _ANCHORED:
        last = bind.execute(sa.text(
            f"SELECT t.county, t.seq, t.record_hash FROM {table} t JOIN (SELECT county, MAX(seq) AS seq FROM {table} "
            "GROUP BY county) e ON e.county = t.county AND e.seq = t.seq")).all()
        for county, seq, record_hash in last:
            bind.execute(anchors.insert().values(
                chain=table, county=county, seq=seq, record_hash=record_hash,
                mac=key.sign(chained.anchor_values(table, county, seq, record_hash))))
    now = dt.datetime.now(dt.UTC)
    for table, (order, names) in _NEW_CHAINS.items():
        model = Base.metadata.tables[table]
        columns = [model.c[name] for name in dict.fromkeys(("id", *names)) if name != "seq"]
        rows = bind.execute(sa.select(*columns).order_by(*(sa.text(part) for part in order.split(", ")))).all()
        ends: dict[str, tuple[int, str]] = {}
        for row in rows:
            values = dict(row._mapping)
            seq, previous = ends.get(values["county"], (0, GENESIS))
            values["seq"] = seq + 1
            text = "|".join(chained._text(values.get(name)) for name in names)
            record_hash = key.link(previous, text)
            bind.execute(sa.text(f"UPDATE {table} SET seq = :seq, prev_hash = :prev, record_hash = :hash "
                                 "WHERE id = :id"),
                         {"seq": seq + 1, "prev": previous, "hash": record_hash, "id": values["id"]})
            ends[values["county"]] = (seq + 1, record_hash)
        for county, (seq, record_hash) in ends.items():
            bind.execute(heads.insert().values(chain=table, county=county, seq=seq, record_hash=record_hash,
                                               recorded_at=now))


def downgrade() -> None:
    for table in _NEW_CHAINS:
        op.drop_index(f"uq_{table}_chain", table)
        for column in ("record_hash", "prev_hash", "seq"):
            op.execute(f'ALTER TABLE {table} DROP COLUMN "{column}"')
    op.execute(f"DELETE FROM chain_heads WHERE chain IN ({', '.join(repr(t) for t in _NEW_CHAINS)})")
    op.execute('ALTER TABLE runs DROP COLUMN "purged_at"')
    op.execute('ALTER TABLE decisions DROP COLUMN "document_sha256"')
    op.drop_table("chain_anchors")
