"""decisions: the per-cause columns of fangpin 0.1 become three JSON columns in the deciding pack's order

A decision had a column per cause (``<cause>_base``, ``<cause>_paid_before``, ``<cause>``) for the three
causes of the Handan packs; a pack may now declare any causes. Existing rows keep their values, moved into
``bases``, ``paid_before`` and ``amounts`` in their old column order, and are marked ``layout`` 1 so that
their chain payload is still computed as it was when they were written (``fangpin.db.chained``): the chain
verifies unchanged. The causes are read off the old columns' names, so this names none.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SUFFIX = "_paid_before"


def _old_causes() -> list[str]:
    columns = [column["name"] for column in sa.inspect(op.get_bind()).get_columns("decisions")]
    return [name.removesuffix(_SUFFIX) for name in columns if name.endswith(_SUFFIX)]


def _json_object(causes: list[str], suffix: str) -> str:
    """SQL building '{"a":1,"b":2}' from the columns <cause><suffix>, the same on SQLite and PostgreSQL."""
    parts = []
    for index, cause in enumerate(causes):
        opening = "{" if index == 0 else ","
        parts.append(f"'{opening}\"{cause}\":' || CAST(\"{cause}{suffix}\" AS TEXT)")
    return " || ".join(parts) + " || '}'"


def upgrade() -> None:
    causes = _old_causes()
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("bases", sa.Text(), nullable=True))
        batch.add_column(sa.Column("paid_before", sa.Text(), nullable=True))
        batch.add_column(sa.Column("amounts", sa.Text(), nullable=True))
        batch.add_column(sa.Column("layout", sa.Integer(), nullable=True))
    if causes:
        op.execute(
            f"UPDATE decisions SET bases = {_json_object(causes, '_base')}, "
            f"paid_before = {_json_object(causes, _SUFFIX)}, amounts = {_json_object(causes, '')}, layout = 1"
        )
    with op.batch_alter_table("decisions") as batch:
        for cause in causes:
            batch.drop_column(f"{cause}_base")
            batch.drop_column(f"{cause}{_SUFFIX}")
            batch.drop_column(cause)
        batch.alter_column("bases", existing_type=sa.Text(), nullable=False)
        batch.alter_column("paid_before", existing_type=sa.Text(), nullable=False)
        batch.alter_column("amounts", existing_type=sa.Text(), nullable=False)
        batch.alter_column("layout", existing_type=sa.Integer(), nullable=False, server_default="2")


def downgrade() -> None:
    raise NotImplementedError(
        "decisions of packs with other causes than fangpin 0.1's three cannot be put back into per-cause columns"
    )
