"""The columns of the year's event ledger: what screening counts, stores per run and reads back.

Every event has the core columns; beside them, each code, bool or text field the pack's causes declare for
their events (a schooling stage, a disaster kind, …) is a column of its own, null for events of other
causes. A ledger written under another pack has other such columns (``screening.linking.ledger_schema``).
"""

from __future__ import annotations

import polars as pl

CORE_SCHEMA: dict[str, pl.DataType] = {
    "department": pl.String(), "event_id": pl.String(), "content": pl.String(), "household_id": pl.String(),
    "person_id": pl.String(), "date": pl.Date(), "cause": pl.String(), "amount_fen": pl.Int64(),
}


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The frame with exactly the schema's columns, in its order; a column it lacks is null."""
    return frame.select([
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in schema.items()
    ])
