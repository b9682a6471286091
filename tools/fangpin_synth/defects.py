"""Tables, cell styles and the injection of defects: one reason per bad row, as the manifest records it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .contract import (
    _CHECK_CHARS,
    _COLUMN_REASONS,
    _FW_TO,
    BAD_AMOUNT_TEXTS,
    BAD_FULL_TIME_TEXTS,
    BAD_HOUSING_TEXTS,
    BAD_LABOUR_TEXTS,
    BAD_MEMBERS_TEXTS,
    BAD_STAGE_TEXTS,
    BAD_STATUS_TEXTS,
    FIELDS,
)
from .manifest import _fen_str
from .world import _choice_idx


@dataclass
class _Table:
    dept: str
    fields: list[str]  # fields present in the file, docs/exports.md order
    df: pl.DataFrame
    kinds: dict[str, str]


def _kinds(dept: str) -> dict[str, str]:
    return {f: k for f, k, _ in FIELDS[dept]}


def _styles(rng: np.random.Generator, m: int, kind: str, messy: bool) -> np.ndarray:
    if not messy:
        return np.zeros(m, dtype=np.int8)
    if kind == "amount":
        primary = int(rng.choice(4, p=[0.5, 0.25, 0.15, 0.1]))
        alt = rng.integers(0, 7, m)
        return np.where(rng.random(m) < 0.85, primary, alt).astype(np.int8)
    if kind == "date":
        primary = int(rng.integers(0, 5))
        alt = rng.integers(0, 5, m)
        return np.where(rng.random(m) < 0.85, primary, alt).astype(np.int8)
    if kind == "id":
        return _choice_idx(rng, m, (0.9, 0.02, 0.03, 0.01, 0.02, 0.02)).astype(np.int8)
    return np.zeros(m, dtype=np.int8)


def _add_meta(df: pl.DataFrame, dept: str, fields: list[str], rng: np.random.Generator, messy: bool,
              designed: np.ndarray) -> pl.DataFrame:
    m = df.height
    kinds = _kinds(dept)
    cols: dict[str, Any] = {
        "_ord": np.arange(m, dtype=np.float64),
        "_uid": np.arange(m, dtype=np.int64),
        "_designed": designed,
    }
    for f in fields:
        k = kinds[f]
        if k in ("amount", "date", "id"):
            cols[f"_s_{f}"] = _styles(rng, m, k, messy)
        if k in ("amount", "date", "int"):
            cols[f"_x_{f}"] = rng.random(m) < (0.8 if k != "date" else 0.75)
    df = df.with_columns(
        [pl.Series(k, v) for k, v in cols.items()]
        + [
            pl.lit(None, dtype=pl.String).alias("_reason"),
            pl.lit(None, dtype=pl.String).alias("_field"),
            pl.lit(None, dtype=pl.String).alias("_also"),
            pl.lit(None, dtype=pl.String).alias("_ov1f"),
            pl.lit(None, dtype=pl.String).alias("_ov1t"),
            pl.lit(None, dtype=pl.String).alias("_ov2f"),
            pl.lit(None, dtype=pl.String).alias("_ov2t"),
            pl.lit(None, dtype=pl.Int64).alias("_corr_of"),
            pl.lit(None, dtype=pl.Int64).alias("_copy_of"),
            pl.lit(False).alias("_superseded"),
        ]
    )
    return df


def _set_rows(df: pl.DataFrame, idx: np.ndarray, values: Mapping[str, Sequence[Any] | Any]) -> pl.DataFrame:
    """Set column values on the rows at positions idx (values: scalar or per-row sequence)."""
    if len(idx) == 0:
        return df
    out = []
    for col, val in values.items():
        s = df[col]
        if isinstance(val, (list, tuple, np.ndarray, pl.Series)):
            new = pl.Series(col, list(val) if not isinstance(val, pl.Series) else val, dtype=s.dtype)
        else:
            new = pl.Series(col, [val] * len(idx), dtype=s.dtype)
        out.append(s.scatter(idx, new))
    return df.with_columns(out)


def _counts(rng: np.random.Generator, n_rows: int, share: float, reasons: Sequence[str]) -> dict[str, int]:
    if share <= 0 or n_rows == 0:
        return {r: 0 for r in reasons}
    total = round(share * n_rows)
    total = max(total, min(len(reasons), n_rows // 4))
    order = list(rng.permutation(len(reasons)))
    counts = {r: 0 for r in reasons}
    for j in order[: min(total, len(reasons))]:
        counts[reasons[j]] += 1
    rest = total - min(total, len(reasons))
    if rest > 0:
        extra = rng.multinomial(rest, np.full(len(reasons), 1 / len(reasons)))
        for r, e in zip(reasons, extra, strict=True):
            counts[r] += int(e)
    return counts


def _bad_id_text(rng: np.random.Generator, good: str) -> str:
    u = rng.random()
    if u < 0.7:
        ok = _CHECK_CHARS.index(good[-1]) if good[-1] in _CHECK_CHARS else 0
        wrong = _CHECK_CHARS[(ok + int(rng.integers(1, 11))) % 11]
        s = good[:-1] + wrong
        if rng.random() < 0.2:
            s = s.translate(str.maketrans("0123456789", "".join(_FW_TO)))
        return s
    if u < 0.8:
        return good[:-1]
    if u < 0.87:
        return good + str(int(rng.integers(0, 10)))
    j = int(rng.integers(6, 16))
    return good[:j] + "O" + good[j + 1:]


def _bad_date_text(rng: np.random.Generator, year: int) -> str:
    y = year
    cands = (
        f"{y}-02-30", f"{y}/2/30", f"{y}.4.31", f"{y}0631", f"{y}年9月31日", f"{y}-13-05", f"{y}/11/31",
        f"{y}.0.12", f"{y}1301", f"{y}年2月30日", f"{y}-06-31", f"{y}/4/0",
    )
    return cands[int(rng.integers(0, len(cands)))]


def _bad_amount_text(rng: np.random.Generator, fen: int | None) -> str:
    u = rng.random()
    if u < 0.25 and fen:
        return "-" + _fen_str(int(fen))
    if u < 0.4:
        a, b, c = (int(x) for x in rng.integers(1, 999, 3))
        return f"{a}.{b}.{c}"
    return BAD_AMOUNT_TEXTS[int(rng.integers(0, len(BAD_AMOUNT_TEXTS)))]


def _defect_fields(dept: str, fields: list[str], reason: str) -> list[str]:
    kinds = _kinds(dept)
    if reason == "bad_id_number":
        return [f for f in fields if kinds[f] == "id"]
    if reason == "bad_amount":
        return [f for f in fields if kinds[f] == "amount"]
    if reason == "bad_date":
        return [f for f in fields if kinds[f] == "date"]
    if reason == "bad_members":
        return [f for f in ("members",) if f in fields]
    if reason == "bad_status":
        return [f for f in ("status",) if f in fields]
    if reason == "bad_stage":
        return [f for f in ("stage",) if f in fields]
    if reason == "bad_value":
        return [f for f in ("housing_secure", "labour", "full_time") if f in fields]
    return []


def _defect_text(rng: np.random.Generator, reason: str, fld: str, row: dict[str, Any], year: int) -> str:
    if reason == "bad_id_number":
        return _bad_id_text(rng, row[fld])
    if reason == "bad_amount":
        return _bad_amount_text(rng, row.get(fld))
    if reason == "bad_date":
        return _bad_date_text(rng, year)
    if reason == "bad_members":
        return BAD_MEMBERS_TEXTS[int(rng.integers(0, len(BAD_MEMBERS_TEXTS)))]
    if reason == "bad_status":
        return BAD_STATUS_TEXTS[int(rng.integers(0, len(BAD_STATUS_TEXTS)))]
    if reason == "bad_stage":
        return BAD_STAGE_TEXTS[int(rng.integers(0, len(BAD_STAGE_TEXTS)))]
    if reason == "bad_value":
        pool = {"housing_secure": BAD_HOUSING_TEXTS, "labour": BAD_LABOUR_TEXTS, "full_time": BAD_FULL_TIME_TEXTS}[fld]
        return pool[int(rng.integers(0, len(pool)))]
    raise ValueError(reason)


def _inject_column_defects(
    rng: np.random.Generator, t: _Table, idx: np.ndarray, reason: str, year: int
) -> None:
    """Give each row at idx one defect of the given column-level reason."""
    if len(idx) == 0:
        return
    cands = _defect_fields(t.dept, t.fields, reason)
    sub = t.df[idx.tolist()]
    rows = sub.to_dicts()
    flds, texts = [], []
    for row in rows:
        fld = cands[int(rng.integers(0, len(cands)))]
        flds.append(fld)
        texts.append(_defect_text(rng, reason, fld, row, year))
    t.df = _set_rows(t.df, idx, {"_reason": reason, "_field": flds, "_ov1f": flds, "_ov1t": texts})


def _inject_multi(rng: np.random.Generator, t: _Table, idx: np.ndarray, year: int) -> None:
    """Two column defects in one row: the first in docs/exports.md's column order is expected."""
    if len(idx) == 0:
        return
    order = [f for f, _, _ in FIELDS[t.dept]]
    pairs: list[tuple[str, str]] = []  # (reason, field) candidates
    for reason in _COLUMN_REASONS:
        for f in _defect_fields(t.dept, t.fields, reason):
            pairs.append((reason, f))
    if len(pairs) < 2:
        return
    rows = t.df[idx.tolist()].to_dicts()
    vals: dict[str, list[Any]] = {k: [] for k in ("_reason", "_field", "_also", "_ov1f", "_ov1t", "_ov2f", "_ov2t")}
    for row in rows:
        a, b = rng.choice(len(pairs), size=2, replace=False)
        (ra, fa), (rb, fb) = pairs[int(a)], pairs[int(b)]
        while fa == fb:
            b = int(rng.integers(0, len(pairs)))
            rb, fb = pairs[b]
        if order.index(fb) < order.index(fa):
            (ra, fa), (rb, fb) = (rb, fb), (ra, fa)
        vals["_reason"].append(ra)
        vals["_field"].append(fa)
        vals["_also"].append(rb)
        vals["_ov1f"].append(fa)
        vals["_ov1t"].append(_defect_text(rng, ra, fa, row, year))
        vals["_ov2f"].append(fb)
        vals["_ov2t"].append(_defect_text(rng, rb, fb, row, year))
    t.df = _set_rows(t.df, idx, vals)


def _append_copies(
    rng: np.random.Generator, t: _Table, src_idx: np.ndarray, changes: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """Copies of rows at src_idx placed later in the file (new uids); returns the appended rows."""
    src = t.df[src_idx.tolist()]
    n_all = t.df.height
    start_uid = int(t.df["_uid"].to_numpy().max()) + 1 if n_all else 0
    ords = src["_ord"].to_numpy()
    top = float(t.df["_ord"].to_numpy().max()) if n_all else 0.0
    new_ord = ords + 0.5 + rng.random(len(ords)) * np.maximum(1.0, top - ords)
    new: pl.DataFrame = src.with_columns(
        pl.Series("_ord", new_ord),
        pl.Series("_uid", np.arange(start_uid, start_uid + len(src), dtype=np.int64)),
        pl.col("_uid").alias("_copy_of"),
    )
    if changes:
        new = new.with_columns([
            (pl.Series(k, v, dtype=new[k].dtype) if isinstance(v, (list, np.ndarray, pl.Series))
             else pl.lit(v, dtype=new[k].dtype).alias(k))
            for k, v in changes.items()
        ])
    t.df = pl.concat([t.df, new], how="vertical")
    return new


