"""The columns holding files that are compressed already (a run's event ledger, its rejections and households
as Parquet) are stored by PostgreSQL as they are, out of line, without trying to compress them again
(``STORAGE EXTERNAL``). With the default (``EXTENDED``) the server ran pglz over every part of a ledger before
finding it would not shrink: storing a 1M-household run's 218 MB ledger took 4.8 s, 1 s without
(docs/scaling.md). What is stored and read back is the same bytes; only rows written from now on are
affected. SQLite has no such setting: nothing to do there.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (("run_event_parts", "data"), ("run_events", "data"), ("run_results", "rejections"),
           ("run_results", "households"))


def _storage(kind: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STORAGE {kind}')


def upgrade() -> None:
    _storage("EXTERNAL")


def downgrade() -> None:
    _storage("EXTENDED")
