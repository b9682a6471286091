"""The result files and the workbook as a role may see them (``fangpin.privacy``): ID numbers masked to their
first 6 and last 4 characters, names to their first character, for the roles that need no identity. The
files on disk keep the full values (the office's); a masked copy is made when such a role downloads one."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import xlsxwriter

from fangpin import privacy

REJECTED_SHEET = "拒绝明细"


def id_masked(column: str) -> pl.Expr:
    """``privacy.mask_id`` as a polars expression."""
    value = pl.col(column).str.strip_chars()
    return (pl.when(value.str.len_chars() >= 12)
            .then(pl.concat_str([value.str.slice(0, 6), pl.lit("********"), value.str.slice(-4)]))
            .otherwise(value.str.replace_all(".", "*")))


def name_masked(column: str) -> pl.Expr:
    """``privacy.mask_name`` as a polars expression."""
    value = pl.col(column).str.strip_chars()
    return pl.concat_str([value.str.slice(0, 1), value.str.slice(1).str.replace_all(".", "*")])


def columns_for(role: str, frame: pl.LazyFrame, *, ids: tuple[str, ...] = (), names: tuple[str, ...] = ()
                ) -> pl.LazyFrame:
    """The frame with its ID-number and name columns (those present) as ``role`` sees them."""
    present = set(frame.collect_schema().names())
    changes = []
    if not privacy.shows(role, "id_number"):
        changes += [id_masked(column).alias(column) for column in ids if column in present]
    if not privacy.shows(role, "name"):
        changes += [name_masked(column).alias(column) for column in names if column in present]
    return frame.with_columns(changes) if changes else frame


def rejected_for(role: str, frame: pl.LazyFrame, field: str = "field", value: str = "value") -> pl.LazyFrame:
    """Rejected rows (``field``, ``value``) as ``role`` sees them: a value that is an ID number (an ID field,
    or shaped like one: ``unknown_person``, ``bad_id_number``) or a name, masked (``privacy.rejected_value_for``)."""
    column = pl.col(value).cast(pl.String)
    changed = column
    if not privacy.shows(role, "name"):
        changed = pl.when(pl.col(field).is_in(sorted(privacy.NAME_FIELDS))).then(name_masked(value)).otherwise(changed)
    if not privacy.shows(role, "id_number"):
        is_id = pl.col(field).is_in(sorted(privacy.ID_FIELDS)) | column.str.strip_chars().str.contains(
            privacy.ID_PATTERN)
        changed = pl.when(is_id).then(id_masked(value)).otherwise(changed)
    return frame.with_columns(changed.alias(value))


def workbook_for(role: str, path: Path) -> bytes:
    """The run's workbook as ``role`` sees it: every sheet read back, its name columns and rejected values
    masked, written again (plain tables: the office's copy keeps the formatting)."""
    sheets: dict[str, pl.DataFrame] = pl.read_excel(path, sheet_id=0, infer_schema_length=0)
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as workbook:
        for name, frame in sheets.items():
            frame = frame.with_columns(pl.all().cast(pl.String))
            lazy = columns_for(role, frame.lazy(), ids=tuple(privacy.ID_FIELDS), names=tuple(privacy.NAME_FIELDS))
            if name == REJECTED_SHEET and {"字段", "值"} <= set(frame.columns):
                lazy = rejected_for(role, lazy, field="字段", value="值")
            lazy.collect().write_excel(workbook=workbook, worksheet=name, header_format={"bold": True})
    return buffer.getvalue()
