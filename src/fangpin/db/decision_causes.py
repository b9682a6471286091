"""The per-cause figures of a stored decision: each cause's base, what was paid before, what it pays.

They are three text columns holding JSON objects in the deciding pack's order of causes, values in integer
fen: ``{"illness":4500000,"schooling":0,"disaster":0}``. The same text is built row by row (``as_text``)
and column-wise (``text_expr``), and read back row by row (``of``) or column-wise (``expanded``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

# column → the suffix of the frame column that holds its value per cause ("" for the amount paid now)
COLUMNS = {"bases": "_base", "paid_before": "_paid_before", "amounts": ""}


def as_text(values: Mapping[str, int]) -> str:
    """``json.dumps`` of the values as integers, compact: the same text, written without the encoder."""
    return "{" + ",".join(f"{_key(cause)}:{int(value)}" for cause, value in values.items()) + "}"


@functools.lru_cache(maxsize=256)
def _key(cause: str) -> str:
    return json.dumps(cause)


def of(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    loaded: dict[str, Any] = json.loads(text)
    return {str(cause): int(value) for cause, value in loaded.items()}


def row_texts(frame_row: Mapping[str, Any], causes: Sequence[str]) -> dict[str, str]:
    """The three columns for one decision from its per-cause values (``<cause>_base`` …)."""
    return {column: as_text({cause: frame_row[f"{cause}{suffix}"] for cause in causes})
            for column, suffix in COLUMNS.items()}


def text_expr(causes: Sequence[str], suffix: str) -> pl.Expr:
    parts: list[pl.Expr] = []
    for index, cause in enumerate(causes):
        parts.append(pl.lit(("{" if index == 0 else ",") + json.dumps(cause) + ":"))
        parts.append(pl.col(f"{cause}{suffix}").cast(pl.Int64).cast(pl.String))
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def text_columns(causes: Sequence[str]) -> list[pl.Expr]:
    return [text_expr(causes, suffix).alias(column) for column, suffix in COLUMNS.items()]


def expanded(frame: pl.DataFrame, causes: Sequence[str]) -> pl.DataFrame:
    """The frame with ``<cause>_base``, ``<cause>_paid_before`` and ``<cause>`` columns from the texts."""
    struct = pl.Struct({cause: pl.Int64 for cause in causes})
    columns = []
    for column, suffix in COLUMNS.items():
        decoded = pl.col(column).str.json_decode(struct)
        columns += [decoded.struct.field(cause).fill_null(0).alias(f"{cause}{suffix}") for cause in causes]
    return frame.with_columns(columns)
