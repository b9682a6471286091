"""fund inputs: the day the money was put in, what for, and corrections

``fund_inputs.paid_on`` (the day the fiscal money reached the fund), ``purpose`` (what it is for, as the
budget document says) and ``corrects_id`` (a correction: the input it corrects; its ``amount`` is the
difference, negative to reverse). All nullable: inputs recorded before have none, and their chain records
keep the payload they were hashed with (``db.chained``: the columns a chain gained later enter a record's
payload only when the record has one of them).

Revision ID: 0009
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fund_inputs", sa.Column("paid_on", sa.Date(), nullable=True))
    op.add_column("fund_inputs", sa.Column("purpose", sa.String(length=200), nullable=True))
    op.add_column("fund_inputs", sa.Column("corrects_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                           nullable=True))


def downgrade() -> None:
    for column in ("corrects_id", "purpose", "paid_on"):
        op.execute(f'ALTER TABLE fund_inputs DROP COLUMN "{column}"')
