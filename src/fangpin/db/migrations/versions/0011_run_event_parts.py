"""A run's event ledger stored in parts (``run_event_parts``): the Parquet file cut into pieces of at most
32 MiB, in order, so that storing and reading a large ledger never holds it in one driver buffer. Runs
stored before keep their ledger in ``run_events.data``; runs stored since leave it empty.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_event_parts",
        sa.Column("run_id", sa.String(length=40), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "part"),
    )


def downgrade() -> None:
    op.drop_table("run_event_parts")
