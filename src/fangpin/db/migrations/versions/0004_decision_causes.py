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

import json

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
    # Plain ADD and DROP COLUMN (SQLite 3.35+, PostgreSQL): recreating the table, as alembic's batch mode
    # does on SQLite, is refused while payments and claims refer to it.
    causes = _old_causes()
    for name in ("bases", "paid_before", "amounts"):
        op.add_column("decisions", sa.Column(name, sa.Text(), nullable=False, server_default="{}"))
    op.add_column("decisions", sa.Column("layout", sa.Integer(), nullable=False, server_default="2"))
    if causes:
        op.execute(
            f"UPDATE decisions SET bases = {_json_object(causes, '_base')}, "
            f"paid_before = {_json_object(causes, _SUFFIX)}, amounts = {_json_object(causes, '')}, layout = 1"
        )
    for cause in causes:
        for suffix in ("_base", _SUFFIX, ""):
            op.execute(f'ALTER TABLE decisions DROP COLUMN "{cause}{suffix}"')


def downgrade() -> None:
    """A column per cause again, for every cause any stored decision has (in the order first seen). Only the
    decisions written before 0004 (layout 1) keep a chain payload that 0.1 can verify."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, bases, paid_before, amounts FROM decisions")).all()
    causes: list[str] = []
    for row in rows:
        for cause in json.loads(row.bases):
            if cause not in causes:
                causes.append(cause)
    for cause in causes:
        for suffix in ("_base", _SUFFIX, ""):
            op.add_column("decisions", sa.Column(f"{cause}{suffix}", sa.BigInteger(), nullable=False,
                                                 server_default="0"))
    for row in rows:
        values = {}
        for column, suffix in (("bases", "_base"), ("paid_before", _SUFFIX), ("amounts", "")):
            stored = json.loads(getattr(row, column))
            values.update({f"{cause}{suffix}": int(amount) for cause, amount in stored.items()})
        if values:
            assignments = ", ".join(f'"{name}" = :{name}' for name in values)
            bind.execute(sa.text(f"UPDATE decisions SET {assignments} WHERE id = :id"), {**values, "id": row.id})
    for name in ("bases", "paid_before", "amounts", "layout"):
        op.execute(f'ALTER TABLE decisions DROP COLUMN "{name}"')
