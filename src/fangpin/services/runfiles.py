"""A run's result files (written by ``reports``) read back for the console, lazily with polars: filtered and
sliced on the server, so a table of 100,000 rejected rows reaches the browser one page at a time."""

from __future__ import annotations

import functools
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from fangpin import privacy
from fangpin.labels import field_label
from fangpin.reports import masks
from fangpin.reports.labels import REASONS
from fangpin.reports.results import neutralised, restored

DOWNLOADS = {
    "report.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "decisions.csv": "text/csv; charset=utf-8",
    "rejections.csv": "text/csv; charset=utf-8",
    "visits.csv": "text/csv; charset=utf-8",
    "run.json": "application/json",
}
PAGE_SIZES = (20, 50, 100, 200)
MAX_PAGE_SIZE = 500
VISIT_MONEY = ("人均可支配收入", "因病赔付", "因学赔付", "因灾赔付", "赔付合计", "保险服务费")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "total": self.total, "page": self.page, "size": self.size, "pages": self.pages}


def clamp_size(size: int | None, default: int = 50) -> int:
    return min(max(size or default, 1), MAX_PAGE_SIZE)


def page_of(frame: pl.LazyFrame, page: int, size: int) -> Page:
    """One page of a lazy frame (1-based; past the end: the last page) and the frame's row count."""
    size = clamp_size(size)
    total = int(frame.select(pl.len()).collect().item())
    pages = max(1, math.ceil(total / size))
    page = min(max(page, 1), pages)
    items = frame.slice((page - 1) * size, size).collect().to_dicts()
    return Page(items=items, total=total, page=page, size=size)


def run_folder(runs_dir: Path, run_id: str) -> Path | None:
    """The run's output folder under the runs folder, if it is there (a run screened with ``--out``
    elsewhere has none)."""
    if not run_id or Path(run_id).name != run_id or run_id.startswith("."):
        return None
    folder = runs_dir / run_id
    return folder if folder.is_dir() else None


def run_summary(folder: Path | None) -> dict[str, Any]:
    """The run's ``run.json`` (its summary), or {} when the folder or the file is not there."""
    if folder is None or not (folder / "run.json").is_file():
        return {}
    summary: dict[str, Any] = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    return summary


def _scan(path: Path) -> pl.LazyFrame:
    """A result file's cells as the drop had them (the apostrophe of a neutralised cell taken off)."""
    return restored(pl.scan_csv(path, infer_schema=False, encoding="utf8"))


# --- rejected rows -------------------------------------------------------------------------------

def rejections(folder: Path, *, reason: str | None = None, file: str | None = None,
               field: str | None = None, role: str = "office") -> pl.LazyFrame:
    """The run's rejected rows, filtered, with the values that are ID numbers or names as ``role`` may see
    them (``reports.masks``: ``unknown_person`` and ``bad_id_number`` rows hold ID numbers)."""
    frame = _scan(folder / "rejections.csv").with_columns(pl.col("row").cast(pl.Int64, strict=False))
    for column, value in (("reason", reason), ("file", file), ("field", field)):
        if value:
            frame = frame.filter(pl.col(column) == value)
    return masks.rejected_for(role, frame)


def rejection_facets(folder: Path) -> dict[str, list[tuple[str, int]]]:
    """The reasons, files and fields present, with their row counts (the filters' choices)."""
    frame = _scan(folder / "rejections.csv")
    facets: dict[str, list[tuple[str, int]]] = {}
    for column in ("reason", "file", "field"):
        counted = frame.group_by(column).len().sort(column).collect()
        facets[column] = [(str(value), int(count)) for value, count in counted.iter_rows() if value is not None]
    return facets


def labelled_rejections(page: Page, inputs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The page's rows with their reason and field as people read them (the field by the column header of
    its file's department, ``inputs`` being the run's)."""
    names = field_labels(inputs or [])
    return [{**row, "reason_label": REASONS.get(row.get("reason") or "", row.get("reason")),
             "field_label": (names.get((row.get("file") or "", row.get("field") or ""))
                             or field_label(row.get("field"))) if row.get("field") else "—"}
            for row in page.items]


@functools.cache
def _profiles() -> Any:
    from fangpin.intake.profiles import load_profiles

    return load_profiles()


def field_labels(inputs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(file, field) → the column a person knows it by: the first header of that field in the profile of the
    file's department (医保结算's ``date`` is 结算日期), for the run's ``inputs``."""
    labels: dict[tuple[str, str], str] = {}
    profiles = _profiles()
    for item in inputs:
        department = item.get("department")
        if not department:
            continue
        try:
            profile = profiles[department]
        except KeyError:
            continue
        for spec in profile.fields:
            labels[(str(item["file"]), spec.name)] = spec.headers[0]
    return labels


def field_facets(facets: list[tuple[str, int]], inputs: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """The field filter's choices: (code, label, rows); a code two departments name differently shows both."""
    names = field_labels(inputs)
    shown = []
    for code, count in facets:
        known = sorted({label for (_, field), label in names.items() if field == code})
        shown.append((code, "/".join(known) if known else field_label(code), count))
    return shown


def csv_bytes(frame: pl.LazyFrame) -> bytes:
    """A filtered table as CSV for Excel: UTF-8 with a BOM."""
    buffer = io.BytesIO()
    neutralised(frame.collect()).write_csv(buffer, include_bom=True)
    return buffer.getvalue()


# --- the households to visit ---------------------------------------------------------------------

def visits(folder: Path, *, township: str | None = None, village: str | None = None,
           role: str = "office") -> pl.LazyFrame:
    """The households to visit, with the head's name as ``role`` may see it."""
    frame = pl.scan_csv(folder / "visits.csv", infer_schema=False, encoding="utf8-lossy")
    frame = restored(frame.rename({name: name.lstrip("\ufeff") for name in frame.collect_schema().names()}))
    if township:
        frame = frame.filter(pl.col("乡镇") == township)
    if village:
        frame = frame.filter(pl.col("村") == village)
    return masks.columns_for(role, frame, names=("户主姓名",))


def _fen(column: str) -> pl.Expr:
    """'1234.56' (exactly two decimals, as the result files write money) as integer fen, no float."""
    return pl.col(column).str.replace(".", "", literal=True).cast(pl.Int64, strict=False)


def visit_places(folder: Path, township: str | None = None) -> list[dict[str, Any]]:
    """Households to visit and what they are owed, per township and village."""
    frame = visits(folder, township=township)
    grouped = (frame.group_by("乡镇", "村")
               .agg(pl.len().alias("households"), _fen("赔付合计").sum().alias("payout"),
                    _fen("保险服务费").sum().alias("fee"))
               .sort("乡镇", "村", nulls_last=True).collect())
    return [{"township": t, "village": v, "households": int(h), "payout": int(p or 0), "fee": int(f or 0)}
            for t, v, h, p, f in grouped.iter_rows()]


# --- downloads ---------------------------------------------------------------------------------------

def download_for(folder: Path, name: str, role: str) -> bytes | None:
    """A result file as ``role`` may see it: None when the file on disk may be sent as it is (the role sees
    every personal field in full, or the file holds none), else a masked copy."""
    if all(privacy.shows(role, field) for field in ("id_number", "name")):
        return None
    if name == "rejections.csv":
        return csv_bytes(rejections(folder, role=role))
    if name == "visits.csv":
        return csv_bytes(visits(folder, role=role))
    if name == "report.xlsx":
        return masks.workbook_for(role, folder / name)
    return None  # decisions.csv and run.json name no person


# --- all decisions -------------------------------------------------------------------------------

def decisions(folder: Path, *, outcome: str | None = None, household: str | None = None) -> pl.LazyFrame:
    frame = _scan(folder / "decisions.csv")
    if outcome:
        frame = frame.filter(pl.col("outcome") == outcome)
    if household:
        frame = frame.filter(pl.col("household_id").str.starts_with(household))
    return frame


# --- who heads each household (written by every screening run) -----------------------------------

def household_index(folder: Path) -> pl.LazyFrame | None:
    path = folder / "households.csv"
    if not path.is_file():
        return None
    frame = _scan(path)  # written with a BOM since the files people open have one; earlier runs' without
    return frame.rename({name: name.lstrip("\ufeff") for name in frame.collect_schema().names()})
