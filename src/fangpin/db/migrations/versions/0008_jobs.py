"""durable screening jobs (jobs: queued/running/done/failed, one running per county) and what a run's result
files are rebuilt from (run_results: summary, rejected rows, household heads)

Revision ID: 0008
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_results",
        sa.Column("run_id", sa.String(length=40), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("rejections", sa.LargeBinary(), nullable=False),
        sa.Column("households", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("county", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("drop_dir", sa.Text(), nullable=False),
        sa.Column("runs_dir", sa.Text(), nullable=False),
        sa.Column("pack_dir", sa.Text(), nullable=True),
        sa.Column("sources_dir", sa.Text(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("already", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at"])
    op.create_index("uq_jobs_one_running_per_county", "jobs", ["county"], unique=True,
                    sqlite_where=sa.text("state = 'running'"), postgresql_where=sa.text("state = 'running'"))


def downgrade() -> None:
    op.drop_index("uq_jobs_one_running_per_county", table_name="jobs")
    op.drop_index("ix_jobs_state_created", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("run_results")
