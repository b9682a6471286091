"""Rendering a table to a file: header aliases, title/blank/total rows, amount and date styles, CSV
(GB18030, UTF-8, UTF-8 with BOM) or xlsx.

Length: over 300 lines because each messy style the exports show (see docs/exports.md) is one small
renderer, and all draw from the same seeded stream in a fixed order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .contract import (
    _EXTRA_ALIAS_OK,
    _FW_FROM,
    _FW_TO,
    _SURNAME_W,
    ACCIDENT_CAUSES,
    ACCIDENTS,
    ALL_ALIASES,
    COUNTY_NAMES,
    DEPT_NAMES,
    DISASTERS,
    DISEASES,
    EDU_LEVELS,
    EXTRAS,
    FIELDS,
    FIRE_CAUSES,
    FIRE_PLACES,
    HEALTH,
    HOSPITALS,
    INJURIES,
    INSURERS,
    KEY_FIELD,
    LIABILITY,
    PLACES,
    SCHOOLS,
    SUBTITLES,
    TITLES,
)
from .defects import _Table
from .manifest import FileManifest, _fen_str
from .world import _choice_idx, _names, _pick, _World


def _amount_style(f: pl.Series, k: int, quote: bool) -> pl.Series:
    """Amount text (fen -> yuan) in style k: 0 plain, 1 thousands, 2 元, 3 ￥, 4 full-width, 5 short, 6 mills."""
    fen = pl.col("f")
    ip = fen // 100
    ips = ip.cast(pl.String)
    fp = (fen % 100).cast(pl.String).str.zfill(2)
    plain = ips + "." + fp
    if k == 1:
        thou = (
            pl.when(ip >= 1_000_000)
            .then((ip // 1_000_000).cast(pl.String) + "," + ((ip // 1000) % 1000).cast(pl.String).str.zfill(3)
                  + "," + (ip % 1000).cast(pl.String).str.zfill(3))
            .when(ip >= 1000)
            .then((ip // 1000).cast(pl.String) + "," + (ip % 1000).cast(pl.String).str.zfill(3))
            .otherwise(ips)
            + "." + fp
        )
        e = pl.when(ip >= 1000).then('"' + thou + '"').otherwise(thou) if quote else thou
    elif k == 2:
        e = plain + "元"
    elif k == 3:
        e = "￥" + plain
    elif k == 4:
        e = plain.str.replace_many(_FW_FROM, _FW_TO)
    elif k == 5:
        e = (pl.when(fen % 100 == 0).then(ips)
             .when(fen % 10 == 0).then(ips + "." + ((fen % 100) // 10).cast(pl.String))
             .otherwise(plain))
    elif k == 6:
        mills = fen * 10 - 5
        e = pl.when(fen >= 1).then(
            (mills // 1000).cast(pl.String) + "." + (mills % 1000).cast(pl.String).str.zfill(3)
        ).otherwise(plain)
    else:
        e = plain
    return pl.DataFrame({"f": f}).select(e.alias("t")).to_series()


def _styled(values: pl.Series, style: np.ndarray, fmt: Any, n_styles: int) -> pl.Series:
    """Format every row in the most common style, then re-format the other styles' rows only."""
    counts = np.bincount(style.astype(np.int64), minlength=n_styles)
    base_k = int(counts.argmax()) if len(style) else 0
    out: pl.Series = fmt(values, base_k)
    for k in range(n_styles):
        if k != base_k and counts[k]:
            idx = np.nonzero(style == k)[0]
            out = out.scatter(idx, fmt(values.gather(idx), k))
    return out


def _amount_text(fen: pl.Series, style: np.ndarray, quote: bool) -> pl.Series:
    out = _styled(fen.fill_null(0), style, lambda v, k: _amount_style(v, k, quote), 7)
    null = np.nonzero(fen.is_null().to_numpy())[0]
    if len(null):
        out = out.scatter(null, pl.Series([""] * len(null), dtype=pl.String))
    return out


def _date_text(d: pl.Series, style: np.ndarray) -> pl.Series:
    """Dates in the five written forms of docs/exports.md section 2, through a small table of the days seen."""
    if len(d) == 0:
        return pl.Series([], dtype=pl.String)
    days = d.cast(pl.Int32).fill_null(0).to_numpy().astype(np.int64)
    lo, hi = int(days.min()), int(days.max())
    table: list[str] = []
    for x in range(lo, hi + 1):
        day = dt.date(1970, 1, 1) + dt.timedelta(days=x)
        y, m, dd = day.year, day.month, day.day
        table += [f"{y}-{m:02d}-{dd:02d}", f"{y}/{m}/{dd}", f"{y}.{m}.{dd}", f"{y}{m:02d}{dd:02d}", f"{y}年{m}月{dd}日"]
    return pl.Series(table, dtype=pl.String).gather((days - lo) * 5 + style.astype(np.int64))


def _id_style(s: pl.Series, k: int) -> pl.Series:
    if k == 1:
        return " " + s
    if k == 2:
        return s + " "
    if k == 3:
        return " " + s + "  "
    if k == 4:
        return s.str.replace_many(_FW_FROM, _FW_TO)
    if k == 5:
        return s.str.to_lowercase()
    return s


def _cell_text(df: pl.DataFrame, f: str, kind: str, quote: bool) -> pl.Series:
    if kind == "amount":
        out = _amount_text(df[f], df[f"_s_{f}"].to_numpy(), quote)
    elif kind == "date":
        out = _date_text(df[f], df[f"_s_{f}"].to_numpy())
    elif kind == "id":
        out = _styled(df[f].fill_null(""), df[f"_s_{f}"].to_numpy(), _id_style, 6)
    elif kind == "int":
        out = df[f].cast(pl.String).fill_null("")
    else:
        out = df[f].fill_null("")
    for fcol, tcol in (("_ov1f", "_ov1t"), ("_ov2f", "_ov2t")):
        idx = np.nonzero((df[fcol] == f).fill_null(False).to_numpy())[0]
        if len(idx):
            out = out.scatter(idx, df[tcol].gather(idx))
    return out.alias(f"_t_{f}")


def _extra_values(header: str, df: pl.DataFrame, rng: np.random.Generator, w: _World) -> pl.Series:
    m = df.height
    h = header
    if h == "序号":
        return pl.Series(np.arange(1, m + 1)).cast(pl.String)
    if h in ("患者姓名", "姓名", "学生姓名", "当事人姓名", "伤者姓名"):
        return df["name"].fill_null("")
    if h == "性别":
        return pl.Series(np.where(df["sex"].fill_null(1).to_numpy() == 1, "男", "女").tolist(), dtype=pl.String)
    if h == "年龄":
        return df["age"].cast(pl.String).fill_null("")

    def pick(vals: Sequence[str], blank: float = 0.0) -> pl.Series:
        s = _pick(vals, rng.integers(0, len(vals), m))
        if blank:
            s = pl.Series(np.where(rng.random(m) < blank, "", s.to_numpy()).tolist(), dtype=pl.String)
        return s

    table = {
        "联系电话": None, "备注": ("已核实", "待复核", "外出务工", "", "", "", ""), "帮扶责任人": None,
        "组别": ("一组", "二组", "三组", "四组", "五组"), "文化程度": EDU_LEVELS, "健康状况": HEALTH,
        "医疗机构名称": HOSPITALS, "就诊类型": ("门诊", "住院", "门诊慢特病"), "疾病名称": DISEASES,
        "经办机构": ("魏县医保局", "一站式结算窗口"), "学校名称": SCHOOLS,
        "年级": ("一年级", "二年级", "三年级", "高一", "高二", "高三"),
        "事故地点": PLACES, "事故类型": ACCIDENTS, "责任认定": LIABILITY, "起火地点": FIRE_PLACES,
        "起火原因": FIRE_CAUSES, "灾害类型": DISASTERS, "受灾村组": ("一组", "二组", "三组", "四组"), "核查人": None,
        "伤情": INJURIES, "出险原因": ACCIDENT_CAUSES, "承保机构": INSURERS,
    }
    vals = table.get(h)
    if h == "联系电话":
        nums = pl.Series(rng.integers(10**9, 10**10, m)).cast(pl.String)
        return "1" + nums
    if vals is None:
        return _names(rng, _choice_idx(rng, m, _SURNAME_W), rng.integers(0, 2, m))
    return pick(vals, 0.0)


@dataclass
class _Layout:
    headers: list[tuple[str, str | None]]  # (header text, field or None for an extra)
    titles: list[str]
    total: bool
    blanks: np.ndarray  # insertion points (before data row j, 1 <= j <= D-1), sorted, may repeat
    quote_all: bool
    crlf: bool
    blank_commas: np.ndarray  # per blank: written as ",,,," (True) or "" (False)


def _layout(rng: np.random.Generator, t: _Table, D: int, messy: bool, county: str, year: int) -> _Layout:
    spec = {f: al for f, _, al in FIELDS[t.dept]}
    cols: list[tuple[str, str | None]] = []
    for f in t.fields:
        al = spec[f]
        cols.append((al[int(rng.integers(0, len(al)))] if messy else al[0], f))
    if messy:
        if rng.random() < 0.7:
            order = rng.permutation(len(cols))
            cols = [cols[i] for i in order]
        if rng.random() < 0.55:
            pool = list(EXTRAS[t.dept])
            k = int(rng.integers(1, 4))
            chosen = [pool[i] for i in rng.choice(len(pool), size=min(k, len(pool)), replace=False)]
            used = {h for h, _ in cols}
            for ex in chosen:
                if (ex in ALL_ALIASES and ex not in _EXTRA_ALIAS_OK) or ex in used:
                    continue
                pos = 0 if ex == "序号" else int(rng.integers(0, len(cols) + 1))
                cols.insert(pos, (ex, None))
                used.add(ex)
    titles: list[str] = []
    cname = COUNTY_NAMES.get(county, "某某县")
    if messy:
        nt = int(rng.choice(3, p=[0.35, 0.45, 0.2]))
        if nt:
            tpl = TITLES[t.dept][int(rng.integers(0, len(TITLES[t.dept])))]
            titles.append(tpl.format(county_name=cname, year=year))
        if nt == 2:
            sub = SUBTITLES[int(rng.integers(0, len(SUBTITLES)))]
            export = dt.date(year + 1, 1, 1) + dt.timedelta(days=int(rng.integers(0, 60)))
            titles.append(sub.format(export_date=export.isoformat(), dept_name=DEPT_NAMES[t.dept]))
    total = bool(messy and D >= 1 and rng.random() < (0.25 if t.dept in ("household_register", "members") else 0.5))
    if messy and D >= 2:
        k = int(rng.poisson(0.8 + D * 0.0004))
        if rng.random() < 0.5:
            k = max(k, 1)
        blanks = np.sort(rng.integers(1, D, k))
    else:
        blanks = np.zeros(0, dtype=np.int64)
    return _Layout(
        headers=cols, titles=titles, total=total, blanks=blanks,
        quote_all=bool(messy and rng.random() < 0.15), crlf=bool(messy and rng.random() < 0.5),
        blank_commas=rng.random(len(blanks)) < 0.5,
    )


def _render_table(
    rng: np.random.Generator, t: _Table, w: _World, path: Path, fmt: str, messy: bool
) -> FileManifest:
    df = t.df.sort("_ord", maintain_order=True)
    D = df.height
    lay = _layout(rng, t, D, messy, w.county, w.year)
    n_title = len(lay.titles)
    header_row = n_title + 1
    data_body = np.arange(D) + np.searchsorted(lay.blanks, np.arange(D), side="right")
    blank_body = lay.blanks + np.arange(len(lay.blanks))
    n_body = D + len(lay.blanks) + (1 if lay.total else 0)
    data_rows = header_row + 1 + data_body
    blank_rows = header_row + 1 + blank_body
    total_row = header_row + n_body if lay.total else None

    quote = fmt != "xlsx" and not lay.quote_all
    df = df.with_columns([_cell_text(df, f, t.kinds[f], quote) for f in t.fields])
    extras = {h: _extra_values(h, df, rng, w) for h, f in lay.headers if f is None}
    # an identical repeat repeats the unknown columns too (but for a running 序号)
    dup = np.nonzero((df["_reason"] == "duplicate_event").fill_null(False).to_numpy())[0]
    if len(dup) and extras:
        pos = pl.DataFrame({"_uid": df["_uid"], "p": np.arange(D)})
        src = df.select(pl.col("_copy_of").gather(dup).alias("_uid")).join(
            pos, on="_uid", how="left", maintain_order="left"
        )["p"]
        for h in extras:
            if h != "序号":
                extras[h] = extras[h].scatter(dup, extras[h].gather(src))

    # ---- manifest bits
    rej = df.select(
        pl.Series("row", data_rows), "_reason", "_field", "_also", "_corr_of", "_uid", t.fields[0]
    )
    rejected_rows: list[dict[str, Any]] = []
    rejected: dict[str, list[int]] = {}
    for row, reason, fld, also in rej.filter(pl.col("_reason").is_not_null()).select(
        "row", "_reason", "_field", "_also"
    ).iter_rows():
        item: dict[str, Any] = {"row": int(row), "reason": reason, "field": fld}
        if also:
            item["also"] = also
        rejected_rows.append(item)
        rejected.setdefault(reason, []).append(int(row))
    key = KEY_FIELD[t.dept]
    rowed = df.select("_uid", "_corr_of", key, pl.Series("row", data_rows))
    corr = rowed.filter(pl.col("_corr_of").is_not_null()).join(
        rowed.select(pl.col("_uid").alias("_corr_of"), pl.col("row").alias("replaces_row")), on="_corr_of", how="left"
    ).sort("row")
    corrections = [
        {"row": int(r), "replaces_row": int(o), "id": i}
        for r, o, i in corr.select("row", "replaces_row", key).iter_rows()
    ]
    skipped = {
        "title": list(range(1, n_title + 1)),
        "blank": [int(x) for x in blank_rows],
        "total": [total_row] if total_row else [],
    }
    rows_read = n_title + n_body
    n_rej = len(rejected_rows)
    n_skip = sum(len(v) for v in skipped.values())

    if fmt == "xlsx":
        _write_xlsx(rng, t, df, lay, extras, data_rows, total_row, path)
        encoding = None
        sheet: str | None = _SHEET_NAME
    else:
        encoding = {"gbk": "gb18030", "utf8": "utf-8", "utf8-bom": "utf-8-sig"}[fmt]
        _write_csv(t, df, lay, extras, data_body, blank_body, n_body, path, encoding)
        sheet = None
    return FileManifest(
        name=path.name, department=t.dept, format="xlsx" if fmt == "xlsx" else "csv", encoding=encoding,
        sheet=sheet, header_row=header_row,
        columns=[{"header": h, "field": f} for h, f in lay.headers],
        rows_read=rows_read, rows_used=rows_read - n_rej - n_skip, rows_rejected=n_rej, rows_skipped=n_skip,
        skipped=skipped, rejected={k: rejected[k] for k in sorted(rejected)}, rejected_rows=rejected_rows,
        corrections=corrections,
    )


_SHEET_NAME = "Sheet1"


def _totals_cells(t: _Table, df: pl.DataFrame, lay: _Layout) -> list[tuple[str, int | None]]:
    cells: list[tuple[str, int | None]] = []
    for j, (_h, f) in enumerate(lay.headers):
        if j == 0:
            cells.append(("合计" if len(df) % 3 else "总计", None))
        elif f is not None and t.kinds[f] == "amount":
            s = int(df[f].fill_null(0).sum())
            cells.append((_fen_str(s), s))
        elif f == "members":
            s = int(df["members"].sum())
            cells.append((str(s), None))
        else:
            cells.append(("", None))
    return cells


def _write_csv(
    t: _Table, df: pl.DataFrame, lay: _Layout, extras: Mapping[str, pl.Series], data_body: np.ndarray,
    blank_body: np.ndarray, n_body: int, path: Path, encoding: str,
) -> None:
    exprs = [pl.col(f"_t_{f}") if f is not None else pl.lit(extras[h]) for h, f in lay.headers]
    sep = '","' if lay.quote_all else ","
    line = pl.concat_str(exprs, separator=sep)
    if lay.quote_all:
        line = '"' + line + '"'
    lines = df.select(line.alias("l")).to_series()
    ncols = len(lay.headers)
    body = pl.select(pl.repeat("", n_body, dtype=pl.String).alias("b")).to_series()
    if len(lines):
        body = body.scatter(data_body, lines)
    if len(blank_body):
        commas = "," * (ncols - 1)
        body = body.scatter(blank_body, pl.Series([commas if c else "" for c in lay.blank_commas], dtype=pl.String))
    if lay.total:
        tot = ",".join(('"' + s + '"') if "," in s else s for s, _ in _totals_cells(t, df, lay))
        body = body.scatter([n_body - 1], pl.Series([tot], dtype=pl.String))
    head = ",".join(('"' + h + '"') if lay.quote_all else h for h, _ in lay.headers)
    pad = "," * (ncols - 1)
    title_lines = [tl + (pad if (i + len(tl)) % 2 else "") for i, tl in enumerate(lay.titles)]
    nl = "\r\n" if lay.crlf else "\n"
    top = nl.join([*title_lines, head]) + nl
    with open(path, "wb") as fh:
        if encoding == "gb18030":
            fh.write(top.encode(encoding))
            if n_body:
                fh.write((body.str.join(nl)[0] + nl).encode(encoding))
        else:
            fh.write(top.encode(encoding))  # utf-8-sig writes the BOM here, once
            if n_body:
                body.to_frame("b").write_csv(fh, include_header=False, quote_style="never", line_terminator=nl)


def _write_xlsx(
    rng: np.random.Generator, t: _Table, df: pl.DataFrame, lay: _Layout, extras: Mapping[str, pl.Series],
    data_rows: np.ndarray, total_row: int | None, path: Path,
) -> None:
    import xlsxwriter  # local: only small drops need it

    if len(df) > 1_048_000:
        raise ValueError(f"{t.dept}: {len(df)} rows do not fit an .xlsx sheet")
    wb = xlsxwriter.Workbook(str(path), {
        "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
    })
    wb.set_properties({"created": dt.datetime(2020, 1, 15, 9, 30, 0), "author": "fangpin.synth"})
    ws = wb.add_worksheet(_SHEET_NAME)
    num_fmt = wb.add_format({"num_format": "#,##0.00" if rng.random() < 0.5 else "0.00"})
    date_fmt = wb.add_format({"num_format": ("yyyy-mm-dd", "yyyy/m/d", "yyyy年m月d日")[int(rng.integers(0, 3))]})
    bold = wb.add_format({"bold": True})
    ncols = len(lay.headers)
    for i, tl in enumerate(lay.titles):
        if i == 0 and ncols > 1 and rng.random() < 0.6:
            ws.merge_range(i, 0, i, ncols - 1, tl, bold)
        else:
            ws.write_string(i, 0, tl)
    hr = len(lay.titles)
    for j, (h, _f) in enumerate(lay.headers):
        ws.write_string(hr, j, h, bold)
    cols: list[tuple[Any, ...]] = []
    for h, f in lay.headers:
        if f is None:
            cols.append(("extra", extras[h].to_list(), None, None, None, None))
            continue
        kind = t.kinds[f]
        texts = df[f"_t_{f}"].to_list()
        ov = ((df["_ov1f"] == f) | (df["_ov2f"] == f)).fill_null(False).to_list()
        typed = df[f"_x_{f}"].to_list() if f"_x_{f}" in df.columns else None
        vals = df[f].to_list() if kind in ("amount", "date", "int") else None
        mills = (df[f"_s_{f}"] == 6).to_list() if kind == "amount" else None
        cols.append((kind, texts, ov, typed, vals, mills))
    for i, r in enumerate(data_rows.tolist()):
        rr = r - 1
        for j, (kind, texts, ov, typed, vals, mills) in enumerate(cols):
            txt = texts[i]
            if kind in ("amount", "date", "int") and not ov[i] and typed[i] and vals[i] is not None:
                v = vals[i]
                if kind == "amount" and mills[i] and v >= 1:
                    # three decimals in the cell (read exactly, then half-up): (v - 0.5 fen) -> v
                    ws.write_number(rr, j, (v * 10 - 5) / 1000, num_fmt)
                elif kind == "amount":
                    ws.write_number(rr, j, v / 100, num_fmt)
                elif kind == "date":
                    ws.write_datetime(rr, j, dt.datetime(v.year, v.month, v.day), date_fmt)
                else:
                    ws.write_number(rr, j, v)
            elif txt != "":
                ws.write_string(rr, j, txt)
    if total_row is not None:
        for j, (s, fen) in enumerate(_totals_cells(t, df, lay)):
            if fen is not None:
                ws.write_number(total_row - 1, j, fen / 100, num_fmt)
            elif s:
                ws.write_string(total_row - 1, j, s)
    if rng.random() < 0.3:
        notes = wb.add_worksheet("说明")
        notes.write_string(0, 0, "本表由系统导出，金额单位：元。")
    wb.close()


