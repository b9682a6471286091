"""the HTTP API: users, claims and their chained history, the request log, fiscal inputs to the fund

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("county", sa.String(length=12), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "claims",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("county", sa.String(length=12), nullable=False),
        sa.Column("township", sa.String(length=100), nullable=True),
        sa.Column("village", sa.String(length=100), nullable=True),
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.String(length=20), nullable=False),
        sa.Column("decision_id", _ID, nullable=False),
        sa.Column("filing_decision_id", _ID, nullable=True),
        sa.Column("amount_decided", sa.BigInteger(), nullable=True),
        sa.Column("amount_paid", sa.BigInteger(), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"]),
        sa.ForeignKeyConstraint(["filing_decision_id"], ["decisions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index("ix_claims_place", ["county", "year", "state"], unique=False)
        batch_op.create_index("ix_claims_household", ["county", "year", "household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claims_decision_id"), ["decision_id"], unique=False)

    op.create_table(
        "claim_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("claim_id", _ID, nullable=False),
        sa.Column("county", sa.String(length=12), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("who", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("county", "seq", name="uq_claim_events_chain"),
    )
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_events_claim_id"), ["claim_id"], unique=False)

    op.create_table(
        "request_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("who", sa.String(length=100), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "fund_inputs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("county", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fund_inputs", schema=None) as batch_op:
        batch_op.create_index("ix_fund_inputs_county_year", ["county", "year"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fund_inputs", schema=None) as batch_op:
        batch_op.drop_index("ix_fund_inputs_county_year")
    op.drop_table("fund_inputs")
    op.drop_table("request_log")
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_events_claim_id"))
    op.drop_table("claim_events")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_decision_id"))
        batch_op.drop_index("ix_claims_household")
        batch_op.drop_index("ix_claims_place")
    op.drop_table("claims")
    op.drop_table("users")
