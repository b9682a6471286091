"""jobs of more than one kind: a policy simulation (政策模拟) runs in the job queue like a screening.

``jobs.kind`` is ``screen`` (every job stored before) or ``simulate``; ``jobs.params`` holds what the job
was asked to do beyond its county and year (a simulation's runs, pack and assumed fiscal input; the per-file
limit a screening's upload was checked with); ``jobs.result`` holds a finished simulation's impact report.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both databases: a batch copy of the table on SQLite could lose the partial unique index
    op.add_column("jobs", sa.Column("kind", sa.String(length=20), nullable=False, server_default="screen"))
    op.add_column("jobs", sa.Column("params", sa.JSON(), nullable=True))
    op.add_column("jobs", sa.Column("result", sa.JSON(), nullable=True))


def downgrade() -> None:
    for column in ("result", "params", "kind"):  # SQLite 3.35 and later drop a column in place
        op.drop_column("jobs", column)
