"""The columns of the year's event ledger: what screening counts, stores per run and reads back."""

from __future__ import annotations

import polars as pl

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "department": pl.String(), "event_id": pl.String(), "content": pl.String(), "household_id": pl.String(),
    "person_id": pl.String(), "date": pl.Date(), "cause": pl.String(), "amount_fen": pl.Int64(),
    "stage": pl.String(), "full_time": pl.Boolean(), "kind": pl.String(),
}
