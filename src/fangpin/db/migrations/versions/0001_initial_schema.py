"""initial schema: packs, runs, decisions, event ledgers, payments, chain heads

Revision ID: 0001
Revises:
Create Date: 2026-11-23 20:17:54.169804
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chain_heads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('chain', sa.String(length=40), nullable=False),
    sa.Column('county', sa.String(length=12), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chain', 'county', 'seq', name='uq_chain_heads')
    )
    op.create_table('packs',
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('pack_id', sa.String(length=100), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hash')
    )
    op.create_table('runs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('county', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('pack_hash', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drop_hash', sa.String(length=64), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('payout', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['pack_hash'], ['packs.hash'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_county'), ['county'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_drop_hash'), ['drop_hash'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=True),
    sa.Column('county', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.String(length=64), nullable=False),
    sa.Column('township', sa.String(length=100), nullable=True),
    sa.Column('village', sa.String(length=100), nullable=True),
    sa.Column('pack_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('per_capita_income', sa.BigInteger(), nullable=False),
    sa.Column('labour_capacity', sa.Integer(), nullable=False),
    sa.Column('housing_secure', sa.Integer(), nullable=False),
    sa.Column('illness_base', sa.BigInteger(), nullable=False),
    sa.Column('schooling_base', sa.BigInteger(), nullable=False),
    sa.Column('disaster_base', sa.BigInteger(), nullable=False),
    sa.Column('illness_paid_before', sa.BigInteger(), nullable=False),
    sa.Column('schooling_paid_before', sa.BigInteger(), nullable=False),
    sa.Column('disaster_paid_before', sa.BigInteger(), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('group', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('illness', sa.BigInteger(), nullable=False),
    sa.Column('schooling', sa.BigInteger(), nullable=False),
    sa.Column('disaster', sa.BigInteger(), nullable=False),
    sa.Column('payout', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['pack_hash'], ['packs.hash'], ),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('county', 'seq', name='uq_decisions_chain')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_household', ['county', 'year', 'household_id'], unique=False)

    op.create_table('run_events',
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('county', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_table('payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('county', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.String(length=64), nullable=False),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('paid_before', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('decision_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('county', 'seq', name='uq_payments_chain'),
    sa.UniqueConstraint('county', 'year', 'household_id', 'cause', 'paid_before', name='uq_payment_once')
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_run_id'))

    op.drop_table('payments')
    op.drop_table('run_events')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_household')

    op.drop_table('decisions')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_drop_hash'))
        batch_op.drop_index(batch_op.f('ix_runs_county'))

    op.drop_table('runs')
    op.drop_table('packs')
    op.drop_table('chain_heads')
