"""privacy: the access log (every read of personal data) and users scoped to a township or village

``access_log`` is append-only: who read, searched or downloaded what (household, decision, claim, run,
file, search), when, by which route, with what answer; a search keeps only the masked form of what was
searched. ``users.scope`` confines a user (a village clerk) to a township or one village of it.

Revision ID: 0006
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("users", sa.Column("scope", sa.String(length=200), nullable=True))
    op.create_table(
        "access_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("who", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("county", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=True),
        sa.Column("household_id", sa.String(length=64), nullable=True),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_household", "access_log", ["county", "household_id"])
    op.create_index("ix_access_log_who", "access_log", ["who", "at"])


def downgrade() -> None:
    op.drop_index("ix_access_log_who", table_name="access_log")
    op.drop_index("ix_access_log_household", table_name="access_log")
    op.drop_table("access_log")
    op.execute("ALTER TABLE users DROP COLUMN scope")
