"""users: tokens expire, users can be disabled, tokens rotated; sign-in attempts are recorded

``users`` gains ``expires_at``, ``disabled_at`` and ``rotated_at``. A user of an older database gets a token
valid for ``token_days`` (FANGPIN_TOKEN_DAYS, default 90) counted from the upgrade, not from its creation:
counting from ``created_at`` would lock every long-standing user out the moment the database is upgraded.
``login_attempts`` records console sign-ins and refused API tokens (never the token itself).

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from fangpin.config import get_settings

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COLUMNS = ("expires_at", "disabled_at", "rotated_at")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("users", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=get_settings().token_days)
    op.get_bind().execute(
        sa.text("UPDATE users SET expires_at = :expires WHERE expires_at IS NULL").bindparams(
            sa.bindparam("expires", type_=sa.DateTime(timezone=True))),
        {"expires": expires},
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempts_name", "login_attempts", ["name", "at"])
    op.create_index("ix_login_attempts_address", "login_attempts", ["address", "at"])


def downgrade() -> None:
    """Back to tokens that never expire: a disabled user is removed (0004 has no way to refuse them), and
    its console sessions with it."""
    op.execute("DELETE FROM console_sessions WHERE user_name IN (SELECT name FROM users WHERE disabled_at IS NOT NULL)")
    op.execute("DELETE FROM users WHERE disabled_at IS NOT NULL")
    op.drop_index("ix_login_attempts_address", table_name="login_attempts")
    op.drop_index("ix_login_attempts_name", table_name="login_attempts")
    op.drop_table("login_attempts")
    for name in reversed(_COLUMNS):
        op.execute(f'ALTER TABLE users DROP COLUMN "{name}"')
