"""Building the department tables from the world and its events, and choosing which rows go bad.

Length: over 300 lines because the tables and their defects are drawn from one sequence of seeded random
streams whose order fixes every generated drop byte for byte."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .contract import _COLUMN_REASONS, ACCIDENT, EVENT_DEPARTMENTS, FIELDS, HOUSING_TEXTS, KEY_FIELD, LABOUR, REASONS
from .defects import (
    _add_meta,
    _append_copies,
    _counts,
    _inject_column_defects,
    _inject_multi,
    _kinds,
    _set_rows,
    _Table,
)
from .events import _medical_amounts
from .world import _pick, _World


@dataclass
class _Drop:
    world: _World
    tables: dict[str, _Table]
    hh_bad: np.ndarray
    register_mode: str  # "income" | "per_capita" | "both"


def _build_tables(
    seeds: Sequence[np.random.SeedSequence], w: _World, events: Mapping[str, pl.DataFrame], *, messy: bool,
    bad_share: float, correction_share: float, register_columns: str | None = None,
) -> _Drop:
    rng = np.random.default_rng(seeds[0])
    n = w.n
    tables: dict[str, _Table] = {}

    # --- household register
    mode = str(rng.choice(["income", "per_capita", "both"], p=[0.4, 0.3, 0.3])) if messy else "income"
    if register_columns is not None:
        if register_columns not in ("income", "per_capita", "both"):
            raise ValueError(f"register_columns must be income, per_capita or both, not {register_columns!r}")
        mode = register_columns
    reg_fields = [f for f, _, _ in FIELDS["household_register"]]
    if mode == "income":
        reg_fields.remove("income_per_capita")
    elif mode == "per_capita":
        reg_fields.remove("income")
    income = w.income_fen.copy()
    pc = w.pc_fen.copy()
    inc_col: np.ndarray | None = income
    pc_col: np.ndarray | None = pc
    if mode == "both":
        blank_inc = (rng.random(n) < 0.3) & ~w.designed
        stale = (~blank_inc) & (rng.random(n) < 0.05) & ~w.designed
        pc_shown = np.where(stale, pc + rng.integers(-30_000, 30_000, n), pc)
        pc_shown = np.maximum(pc_shown, 0)
        inc_col = np.where(blank_inc, -1, income)
        pc_col = pc_shown
    hstyle = int(rng.choice(3, p=[0.7, 0.15, 0.15])) if messy else 0
    hpick = np.where(rng.random(n) < (0.9 if messy else 1.0), hstyle, rng.integers(0, 3, n))
    housing_txt = np.where(w.housing, np.array([h[0] for h in HOUSING_TEXTS], dtype=object)[hpick],
                           np.array([h[1] for h in HOUSING_TEXTS], dtype=object)[hpick])
    heads = w.first
    reg = pl.DataFrame({
        "hh": np.arange(n),
        "household_id": w.hh_id,
        "head_id": w.p_id.gather(heads),
        "head_name": w.p_name.gather(heads),
        "township": w.township,
        "village": w.village,
        "members": w.members.astype(np.int64),
        "income": pl.Series(inc_col).cast(pl.Int64),
        "income_per_capita": pl.Series(pc_col).cast(pl.Int64),
        "status": w.status_txt,
        "housing_secure": pl.Series(housing_txt.tolist(), dtype=pl.String),
        "person": heads.astype(np.int64),
    }).with_columns(
        pl.when(pl.col("income") < 0).then(None).otherwise(pl.col("income")).alias("income"),
    )
    reg = _add_meta(reg, "household_register", reg_fields, rng, messy, w.designed)
    tables["household_register"] = _Table("household_register", reg_fields, reg, _kinds("household_register"))

    # --- members
    P = w.n_people
    mem = pl.DataFrame({
        "hh": w.p_hh[:P],
        "household_id": w.hh_id.gather(w.p_hh[:P]),
        "id_number": w.p_id[:P],
        "name": w.p_name[:P],
        "relation": w.p_rel[:P],
        "labour": _pick(LABOUR, w.p_labour[:P]),
        "person": np.arange(P, dtype=np.int64),
        "able": w.p_labour[:P] < 3,
        "sex": w.p_sex[:P],
        "age": w.p_age[:P],
    })
    mem_fields = [f for f, _, _ in FIELDS["members"]]
    mem = _add_meta(mem, "members", mem_fields, rng, messy, w.designed[w.p_hh[:P]])
    tables["members"] = _Table("members", mem_fields, mem, _kinds("members"))

    # --- events
    for k, dept in enumerate(EVENT_DEPARTMENTS):
        erng = np.random.default_rng(seeds[1 + k])
        tables[dept] = _event_table(erng, w, events[dept], dept, messy=messy)

    hh_bad = _inject(seeds, w, tables, bad_share=bad_share, correction_share=correction_share)
    return _Drop(w, tables, hh_bad, mode)


def _disjoint(rng: np.random.Generator, pool: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    perm = rng.permutation(pool)
    out, start = [], 0
    for c in counts:
        c = min(c, len(perm) - start)
        out.append(np.sort(perm[start:start + c]))
        start += c
    return out


def _inject(
    seeds: Sequence[np.random.SeedSequence], w: _World, tables: dict[str, _Table], *, bad_share: float,
    correction_share: float,
) -> np.ndarray:
    year = w.year
    rng = np.random.default_rng(seeds[6])
    n = w.n

    # ---------------- register
    t = tables["household_register"]
    counts = _counts(rng, n, bad_share, REASONS["household_register"])
    n_multi = max(1, n // 2000) if bad_share > 0 and n >= 40 else 0
    pool = np.nonzero(~w.designed)[0]
    col_reasons = [r for r in REASONS["household_register"] if r != "duplicate_household"]
    sel = _disjoint(rng, pool, [counts[r] for r in col_reasons] + [n_multi, counts["duplicate_household"]])
    for r, idx in zip(col_reasons, sel, strict=False):
        _inject_column_defects(rng, t, idx, r, year)
    _inject_multi(rng, t, sel[len(col_reasons)], year)
    hh_bad = np.zeros(n, dtype=bool)
    for idx in sel[: len(col_reasons) + 1]:
        hh_bad[idx] = True
    dup_src = sel[-1]
    if len(dup_src):
        # a later row with the same household id: an identical repeat or a re-entry with new income
        ch: dict[str, Any] = {"_reason": "duplicate_household", "_field": "household_id"}
        if "income" in t.fields:
            inc = t.df["income"].gather(dup_src).to_numpy()
            changed = rng.random(len(dup_src)) < 0.5
            ch["income"] = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v) + (10_000 if c else 0)
                for v, c in zip(inc.tolist(), changed.tolist(), strict=True)
            ]
        _append_copies(rng, t, dup_src, ch)

    # ---------------- members
    t = tables["members"]
    mrng = np.random.default_rng(seeds[7])
    df = t.df
    base_n = df.height
    hh = df["hh"].to_numpy()
    bad_mem = hh_bad[hh]
    t.df = _set_rows(df, np.nonzero(bad_mem)[0], {"_reason": "unknown_household", "_field": "household_id"})
    # people with events
    has_event = np.zeros(len(w.p_hh), dtype=bool)
    for dept in EVENT_DEPARTMENTS:
        has_event[tables[dept].df["person"].to_numpy()] = True
    able = df["able"].to_numpy()
    able_count = np.bincount(hh, weights=able.astype(float), minlength=n)
    pos = w.p_pos[:w.n_people]
    eligible = (~bad_mem) & (~w.designed[hh]) & (pos != 0) & (~has_event[: w.n_people]) & (
        (~able) | (able_count[hh] >= 2)
    )
    counts = _counts(mrng, base_n, bad_share, REASONS["members"])
    pool = np.nonzero(eligible)[0]
    # at most one changed row per household keeps the labour capacity rule simple
    _, first_in_hh = np.unique(hh[pool], return_index=True)
    pool = pool[first_in_hh]
    sel = _disjoint(mrng, pool, [counts["bad_id_number"], counts["bad_value"]])
    _inject_column_defects(mrng, t, sel[0], "bad_id_number", year)
    _inject_column_defects(mrng, t, sel[1], "bad_value", year)
    # duplicate_person: someone of a good household listed again, later, in another good household
    ok_rows = (~bad_mem) & (~w.designed[hh])
    ok_rows[np.concatenate(sel)] = False
    good_rows = np.nonzero(ok_rows)[0]
    k = min(counts["duplicate_person"], len(good_rows))
    if k and n >= 2:
        src = np.sort(mrng.choice(good_rows, size=k, replace=False))
        good_hh = np.nonzero((~hh_bad) & (~w.designed))[0]
        src_hh = hh[src]
        other = good_hh[mrng.integers(0, len(good_hh), k)]
        clash = other == src_hh
        other = np.where(clash, good_hh[(np.searchsorted(good_hh, other) + 1) % len(good_hh)], other)
        keep = other != src_hh
        src, other = src[keep], other[keep]
        if len(src):
            _append_copies(mrng, t, src, {
                "hh": other,
                "household_id": w.hh_id.gather(other),
                "relation": _pick(("之子", "之女", "孙子", "配偶", "其他"), mrng.integers(0, 5, len(src))),
                "_reason": "duplicate_person",
                "_field": "id_number",
                "_designed": False,
            })
    k = counts["unknown_household"]
    if k:
        outs = w.take_outsiders(k)
        width = max(6, len(str(n)))
        fake = [f"{w.county}-{int(x):0{width}d}" for x in mrng.integers(n + 1, n + 1 + max(10, n), k)]
        good_now = np.nonzero(t.df["_reason"].head(base_n).is_null().to_numpy())[0]
        src = np.sort(mrng.choice(good_now, size=k, replace=True))
        _append_copies(mrng, t, src, {
            "hh": np.full(k, -1),
            "household_id": fake,
            "id_number": w.p_id.gather(outs),
            "name": w.p_name.gather(outs),
            "person": outs,
            "relation": "户主",
            "labour": _pick(LABOUR, mrng.integers(0, 3, k)),
            "_reason": "unknown_household",
            "_field": "household_id",
            "_designed": False,
        })

    # ---------------- events
    for j, dept in enumerate(EVENT_DEPARTMENTS):
        erng = np.random.default_rng(seeds[8 + j])
        _inject_events(erng, w, tables[dept], hh_bad, bad_share=bad_share, correction_share=correction_share)
    return hh_bad


def _event_table(erng: np.random.Generator, w: _World, ev: pl.DataFrame, dept: str, *, messy: bool) -> _Table:
    """One event department's table: ids in date order, people's ids and names, blank cells, cell styles."""
    year = w.year
    ev = ev.with_columns(pl.Series("_tie", erng.random(ev.height))).sort(["date", "_tie"]).drop("_tie")
    m = ev.height
    person = ev["person"].to_numpy()
    width = max(6, len(str(m + 10)))
    seqs = pl.Series(np.arange(1, m + 1)).cast(pl.String).str.zfill(width)
    prefix = {
        "medical": f"JS{w.county}", "education": f"JF{year}", "traffic": f"SG{w.county}{year}",
        "fire": f"XF{w.county}{year}", "disaster": f"ZQ{w.county}{year}", "accident": f"YW{w.county}{year}",
    }[dept] + (f"B{w.block[0]}" if w.block[1] > 1 else "")  # blocks of one drop: ids that never meet
    key = KEY_FIELD[dept]
    ev = ev.with_columns(
        (pl.lit(prefix) + seqs).alias(key),
        w.p_id.gather(person).alias("id_number"),
        w.p_name.gather(person).alias("name"),
        pl.Series("hh", w.p_hh[person]),
    )
    fields = [f for f, _, _ in FIELDS[dept]]
    if dept == "medical":
        with_personal = (not messy) or erng.random() < 0.7
        if not with_personal:
            fields.remove("personal")
        # some zero reimbursement cells are blank; personal sometimes blank (not checked then)
        ev = ev.with_columns(
            pl.when((pl.col("critical") == 0) & pl.lit(messy) & (pl.Series(erng.random(m)) < 0.5))
            .then(None).otherwise(pl.col("critical")).alias("critical"),
            pl.when((pl.col("assistance") == 0) & pl.lit(messy) & (pl.Series(erng.random(m)) < 0.5))
            .then(None).otherwise(pl.col("assistance")).alias("assistance"),
            pl.when(pl.lit(messy) & (pl.Series(erng.random(m)) < 0.08)).then(None)
            .otherwise(pl.col("personal")).alias("personal"),
        )
        # a personal burden off by exactly 0.01 is accepted (docs/exports.md 3.3: more than 0.01 rejects)
        off = messy & (erng.random(m) < 0.01)
        ev = ev.with_columns(
            pl.when(pl.Series(off) & pl.col("personal").is_not_null() & (pl.col("personal") > 0))
            .then(pl.col("personal") + pl.Series(np.where(erng.random(m) < 0.5, 1, -1)))
            .otherwise(pl.col("personal")).alias("personal")
        )
    elif dept in ("traffic", "fire", "disaster", "accident"):
        ev = ev.with_columns(
            pl.when((pl.col("compensation") == 0) & pl.lit(messy) & (pl.Series(erng.random(m)) < 0.4))
            .then(None).otherwise(pl.col("compensation")).alias("compensation"),
        )
    ev = _add_meta(ev, dept, fields, erng, messy, w.designed[w.p_hh[person]])
    return _Table(dept, fields, ev, _kinds(dept))


def _inject_events(
    erng: np.random.Generator, w: _World, t: _Table, hh_bad: np.ndarray, *, bad_share: float,
    correction_share: float,
) -> None:
    """Injected defects and corrections of one event table (rows of bad households cascade as unknown_person)."""
    year = w.year
    dept = t.dept
    df = t.df
    base_n = df.height
    hh_e = df["hh"].to_numpy()
    cascade = hh_bad[hh_e]
    t.df = _set_rows(df, np.nonzero(cascade)[0], {"_reason": "unknown_person", "_field": "id_number"})
    eligible = (~cascade) & (~t.df["_designed"].to_numpy())
    pool = np.nonzero(eligible)[0]
    counts = _counts(erng, base_n, bad_share, REASONS[dept])
    n_multi = max(1, base_n // 2000) if bad_share > 0 and base_n >= 50 else 0
    n_corr = round(correction_share * base_n)
    if correction_share > 0 and base_n >= 20:
        n_corr = max(1, n_corr)
    col_reasons = [r for r in REASONS[dept] if r in _COLUMN_REASONS]
    other_reasons = ["inconsistent_amounts", "unknown_person", "outside_policy_year"]
    other_reasons = [r for r in other_reasons if r in REASONS[dept]]
    plan = col_reasons + other_reasons + ["_multi", "duplicate_event", "_correction"]
    wanted = [counts.get(r, 0) for r in col_reasons + other_reasons] + [
        n_multi, counts["duplicate_event"], n_corr,
    ]
    if dept == "medical":
        # inconsistent_amounts by a given personal burden needs the personal column
        pass
    picks = dict(zip(plan, _disjoint(erng, pool, wanted), strict=True))
    for r in col_reasons:
        _inject_column_defects(erng, t, picks[r], r, year)
    _inject_multi(erng, t, picks["_multi"], year)
    if "inconsistent_amounts" in picks:
        idx = picks["inconsistent_amounts"]
        rows = t.df[idx.tolist()]
        neg = (erng.random(len(idx)) < 0.3) | ("personal" not in t.fields)
        total = rows["total"].to_numpy()
        crit = rows["critical"].fill_null(0).to_numpy()
        assist = rows["assistance"].fill_null(0).to_numpy()
        personal = rows["personal"].to_numpy()
        personal_calc = total - rows["basic"].to_numpy() - crit - assist
        # (a) a given personal burden that differs by more than 0.01
        delta = np.where(erng.random(len(idx)) < 0.2, 2, erng.integers(100, 50_000, len(idx)))
        sign = np.where((erng.random(len(idx)) < 0.5) & (personal_calc > delta), -1, 1)
        new_personal = [None if ng else int(v) for ng, v in zip(neg, personal_calc + sign * delta, strict=True)]
        # (b) reimbursements above the total: a negative burden, personal left blank
        new_basic = np.where(neg, total - crit - assist + erng.integers(100, 200_000, len(idx)),
                             rows["basic"].to_numpy())
        t.df = _set_rows(t.df, idx, {
            "personal": new_personal, "basic": new_basic, "_reason": "inconsistent_amounts",
            "_field": [None if ng else "personal" for ng in neg],
        })
        del personal
    if "unknown_person" in picks:
        idx = picks["unknown_person"]
        outs = w.take_outsiders(len(idx))
        t.df = _set_rows(t.df, idx, {
            "id_number": w.p_id.gather(outs), "name": w.p_name.gather(outs), "person": outs,
            "hh": np.full(len(idx), -1), "_reason": "unknown_person", "_field": "id_number",
        })
    if "outside_policy_year" in picks:
        idx = picks["outside_policy_year"]
        k = len(idx)
        u = erng.random(k)
        before = np.datetime64(f"{year - 1}-12-31") - erng.integers(0, 45, k)
        after = np.datetime64(f"{year + 1}-01-01") + erng.integers(0, 40, k)
        long_ago = np.datetime64(f"{year - 2}-01-01") + erng.integers(0, 365, k)
        d = np.where(u < 0.5, before, np.where(u < 0.85, after, long_ago))
        t.df = _set_rows(t.df, idx, {"date": pl.Series(d), "_reason": "outside_policy_year", "_field": "date"})
    idx = picks["duplicate_event"]
    if len(idx):
        _append_copies(erng, t, idx, {"_reason": "duplicate_event", "_field": KEY_FIELD[dept]})
    idx = picks["_correction"]
    if len(idx):
        t.df = _set_rows(t.df, idx, {"_superseded": True})
        src = t.df[idx.tolist()]
        k = len(idx)
        corr: dict[str, Any] = {"_corr_of": src["_uid"].to_numpy(), "_superseded": False}
        if dept == "medical":
            personal = (src["total"] - src["basic"] - src["critical"].fill_null(0)
                        - src["assistance"].fill_null(0)).to_numpy()
            new_personal = np.maximum(0, personal + erng.integers(-personal // 2 - 1, 300_000, k))
            new_personal = np.where(new_personal == personal, personal + 100, new_personal)
            kind = np.where(new_personal > 2_000_000, 1, 0)
            am = _medical_amounts(erng, new_personal, kind)
            corr.update(am)
            corr["personal"] = [
                None if blank else int(v)
                for blank, v in zip(src["personal"].is_null().to_list(), new_personal, strict=True)
            ]
        elif dept == "education":
            tu = src["tuition"].to_numpy()
            corr["tuition"] = tu + erng.integers(1, 40, k) * 100
        else:
            lo = src["loss"].to_numpy()
            corr["loss"] = lo + erng.integers(1, 200, k) * 100
            if erng.random() < 0.5:
                corr["date"] = pl.Series(np.minimum(
                    src["date"].to_numpy() + erng.integers(0, 5, k), np.datetime64(f"{year}-12-31")))
        _append_copies(erng, t, idx, corr)


def _accident_table(
    seeds: Sequence[np.random.SeedSequence], drop: _Drop, events: pl.DataFrame, *, messy: bool, bad_share: float,
    correction_share: float,
) -> _Table:
    """The accident table (built and given its defects from its own seeds, after every other table)."""
    t = _event_table(np.random.default_rng(seeds[0]), drop.world, events, ACCIDENT, messy=messy)
    _inject_events(np.random.default_rng(seeds[1]), drop.world, t, drop.hh_bad, bad_share=bad_share,
                   correction_share=correction_share)
    return t


def _unlinkable_people(drop: _Drop) -> np.ndarray:
    """People (by index) whose own member row is rejected for a bad value: no event links to them."""
    w = drop.world
    base = drop.tables["members"].df.filter(pl.col("_uid") < w.n_people).sort("_uid")
    out = np.zeros(len(w.p_hh), dtype=bool)
    bad = base["_reason"].is_in(["bad_id_number", "bad_value"]).fill_null(False).to_numpy()
    out[base["person"].to_numpy()[bad]] = True
    return out
