"""The events of the policy year: medical settlements, school payments, traffic, fire and disaster losses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from .contract import STAGES_HIGH, STAGES_POST, STAGES_VOC
from .manifest import HouseholdSpec, _yuan_to_fen
from .world import _World


def _year_dates(rng: np.random.Generator, year: int, m: int) -> np.ndarray:
    start = np.datetime64(f"{year}-01-01")
    ndays = int((np.datetime64(f"{year + 1}-01-01") - start).astype(np.int64))
    return start + rng.integers(0, ndays, m)


def _random_member(rng: np.random.Generator, w: _World, hh: np.ndarray) -> np.ndarray:
    out: np.ndarray = w.first[hh] + (rng.random(len(hh)) * w.listed[hh]).astype(np.int64)
    return out


def _yuan(rng: np.random.Generator, lo: float, hi: float, m: int, cents: float = 0.2) -> np.ndarray:
    """Amounts in fen, uniform in [lo, hi] yuan; whole yuan except a share with cents."""
    base = (rng.uniform(lo, hi, m)).astype(np.int64) * 100
    return base + np.where(rng.random(m) < cents, rng.integers(0, 100, m), 0)


def _medical_amounts(rng: np.random.Generator, personal: np.ndarray, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Total, basic, critical and assistance around a given personal burden (all fen)."""
    m = len(personal)
    basic_share = np.where(kind == 0, rng.uniform(0.0, 0.5, m), rng.uniform(0.45, 0.7, m))
    # personal is what is left after basic (share of total), critical and assistance
    crit = np.where(kind == 2, (personal * rng.uniform(0.3, 0.8, m)).astype(np.int64), 0)
    crit = np.where((kind == 1) & (personal > 800_000), (personal * rng.uniform(0.2, 0.5, m)).astype(np.int64), crit)
    assist = np.where(rng.random(m) < 0.15, (personal * rng.uniform(0.02, 0.2, m)).astype(np.int64), 0)
    rest = personal + crit + assist
    total = (rest / np.maximum(1e-9, 1 - basic_share)).astype(np.int64)
    basic = total - rest
    return {"total": total, "basic": basic, "critical": crit, "assistance": assist}


def _make_medical(rng: np.random.Generator, w: _World, specs: Sequence[HouseholdSpec]) -> pl.DataFrame:
    P = w.n_people
    age = w.p_age[:P]
    lam = np.where(age < 16, 0.45, np.where(age < 60, 0.65, 1.25))
    cnt = rng.poisson(lam)
    cnt[w.designed[w.p_hh[:P]]] = 0
    person = np.repeat(np.arange(P), cnt)
    m = len(person)
    u = rng.random(m)
    kind = np.where(u < 0.62, 0, np.where(u < 0.997, 1, 2))  # outpatient, inpatient, catastrophic
    personal = np.where(
        kind == 0,
        _yuan(rng, 20, 2500, m, 0.9),
        np.where(kind == 1, np.clip(rng.lognormal(np.log(5200), 0.85, m), 300, 150_000) * 100,
                 rng.uniform(150_000, 450_000, m) * 100),
    ).astype(np.int64)
    personal = np.where(kind == 0, personal, personal // 100 * 100 + rng.integers(0, 100, m))
    amounts = _medical_amounts(rng, personal, kind)
    date = _year_dates(rng, w.year, m)
    d_person, d_personal, d_kind = [], [], []
    for slot, sp in zip(w.designed_slots, specs, strict=True):
        for j, amt in enumerate(sp.illness):
            d_person.append(int(w.first[slot]) + (j % int(w.listed[slot])))
            d_personal.append(_yuan_to_fen(amt))
            d_kind.append(2 if _yuan_to_fen(amt) > 5_000_000 else 1)
    if d_person:
        dp = np.array(d_personal, dtype=np.int64)
        dam = _medical_amounts(rng, dp, np.array(d_kind))
        person = np.concatenate([person, np.array(d_person)])
        for k in amounts:
            amounts[k] = np.concatenate([amounts[k], dam[k]])
        personal = np.concatenate([personal, dp])
        date = np.concatenate([date, np.sort(_year_dates(rng, w.year, len(d_person)))])
    df = pl.DataFrame({
        "person": person, "date": date, **amounts, "personal": personal,
    })
    return df


def _school_fees(rng: np.random.Generator, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tuition, accommodation, textbooks (fen) by stage group."""
    m = len(group)
    # group: 0 primary, 1 junior, 2 high, 3 vocational, 4 college, 5 undergraduate, 6 postgraduate, 7 part-time
    lo_t = np.array([0, 0, 800, 0, 3500, 4000, 8000, 2000])[group]
    hi_t = np.array([0, 0, 1600, 1200, 7000, 7000, 12000, 5000])[group]
    tuition = (rng.uniform(lo_t, np.maximum(lo_t, hi_t)) // 10 * 10 * 100).astype(np.int64)
    private = (group >= 5) & (group <= 6) & (rng.random(m) < 0.15)
    tuition = np.where(private, rng.integers(120, 400, m) * 10_000, tuition)
    lo_a = np.array([0, 0, 300, 300, 600, 800, 1000, 0])[group]
    hi_a = np.array([600, 800, 600, 600, 1200, 1500, 1500, 0])[group]
    accom = (rng.uniform(lo_a, np.maximum(lo_a, hi_a)) // 10 * 10 * 100).astype(np.int64)
    accom = np.where((group <= 1) & (rng.random(m) < 0.5), 0, accom)
    lo_b = np.array([0, 0, 200, 150, 300, 400, 300, 200])[group]
    hi_b = np.array([150, 200, 500, 400, 800, 1000, 800, 500])[group]
    books = (rng.uniform(lo_b, np.maximum(lo_b, hi_b)) * 100).astype(np.int64)
    books = np.where(rng.random(m) < 0.7, books // 100 * 100, books)
    return tuition, accom, books


def _make_education(rng: np.random.Generator, w: _World, specs: Sequence[HouseholdSpec]) -> pl.DataFrame:
    P = w.n_people
    age = w.p_age[:P]
    des = w.designed[w.p_hh[:P]]
    y = w.year
    rows_person: list[np.ndarray] = []
    rows_group: list[np.ndarray] = []
    rows_date: list[np.ndarray] = []

    def spring(m: int) -> np.ndarray:
        return np.datetime64(f"{y}-02-15") + rng.integers(0, 29, m)

    def autumn(m: int) -> np.ndarray:
        return np.datetime64(f"{y}-08-20") + rng.integers(0, 32, m)

    def add(mask: np.ndarray, group: np.ndarray | int, when: str) -> None:
        idx = np.nonzero(mask & ~des)[0]
        g = np.full(len(idx), group) if np.isscalar(group) else np.asarray(group)[idx]
        rows_person.append(idx)
        rows_group.append(g)
        if when == "spring":
            rows_date.append(spring(len(idx)))
        elif when == "autumn":
            rows_date.append(autumn(len(idx)))
        else:
            rows_date.append(_year_dates(rng, y, len(idx)))

    r = rng.random((P, 4))
    add((age >= 6) & (age <= 11) & (r[:, 0] < 0.22), 0, "autumn")
    add((age >= 12) & (age <= 14) & (r[:, 0] < 0.3), 1, "autumn")
    hs = (age >= 15) & (age <= 17) & (r[:, 0] < 0.85)
    hs_group = np.where(r[:, 1] < 0.7, 2, 3)
    add(hs & (r[:, 2] < 0.9), hs_group, "spring")
    add(hs & (r[:, 3] < 0.9), hs_group, "autumn")
    col = (age >= 18) & (age <= 22) & (r[:, 0] < 0.45)
    col_group = np.where(r[:, 1] < 0.5, 5, 4)
    add(col, col_group, "autumn")
    add(col & (r[:, 2] < 0.3), col_group, "spring")
    add((age >= 23) & (age <= 27) & (r[:, 0] < 0.06), 6, "autumn")
    add((age >= 25) & (age <= 45) & (r[:, 0] < 0.012), 7, "any")
    person = np.concatenate(rows_person) if rows_person else np.zeros(0, dtype=np.int64)
    group = np.concatenate(rows_group).astype(np.int64) if rows_group else np.zeros(0, dtype=np.int64)
    date = np.concatenate(rows_date) if rows_date else np.zeros(0, dtype="datetime64[D]")
    m = len(person)
    tuition, accom, books = _school_fees(rng, group)
    stage_names = (
        ("小学",), ("初中",), STAGES_HIGH, STAGES_VOC, ("高职", "大专", "专科"), ("本科",), STAGES_POST,
        ("大专", "本科"),
    )
    stage = np.empty(m, dtype=object)
    for gi, names in enumerate(stage_names):
        mk = group == gi
        stage[mk] = np.array(names, dtype=object)[rng.integers(0, len(names), int(mk.sum()))]
    full_time = np.where((group == 7) | ((group >= 2) & (rng.random(m) < 0.02)), "非全日制", "全日制")
    # designed rows
    d_rows: list[tuple[int, str, str, int, int, int]] = []
    for slot, sp in zip(w.designed_slots, specs, strict=True):
        f0, k = int(w.first[slot]), int(w.listed[slot])
        for j, (st, ft, t, a_, b) in enumerate(sp.schooling):
            who = f0 + min(k - 1, 2 + j) if k >= 3 else f0 + k - 1
            if ft != "全日制" and k >= 2:
                who = f0 + 1  # part-time study: the spouse
            d_rows.append((who, st, ft, _yuan_to_fen(t), _yuan_to_fen(a_), _yuan_to_fen(b)))
    if d_rows:
        person = np.concatenate([person, np.array([d[0] for d in d_rows])])
        stage = np.concatenate([stage, np.array([d[1] for d in d_rows], dtype=object)])
        full_time = np.concatenate([full_time, np.array([d[2] for d in d_rows])])
        tuition = np.concatenate([tuition, np.array([d[3] for d in d_rows])])
        accom = np.concatenate([accom, np.array([d[4] for d in d_rows])])
        books = np.concatenate([books, np.array([d[5] for d in d_rows])])
        date = np.concatenate([date, autumn(len(d_rows))])
    return pl.DataFrame({
        "person": person,
        "date": date,
        "stage": pl.Series(stage.tolist(), dtype=pl.String),
        "full_time": pl.Series(full_time.tolist(), dtype=pl.String),
        "tuition": tuition,
        "accommodation": accom,
        "textbooks": books,
    })


def _make_losses(
    rng: np.random.Generator, w: _World, specs: Sequence[HouseholdSpec], dept: str
) -> pl.DataFrame:
    n = w.n
    lam = {"traffic": 0.25, "fire": 0.12, "disaster": 0.6}[dept]
    cnt = rng.poisson(lam, n)
    cnt[w.designed] = 0
    hh = np.repeat(np.arange(n), cnt)
    m = len(hh)
    if dept == "traffic":
        person = _random_member(rng, w, hh)
        person = np.where(w.p_age[person] < 18, w.first[hh], person)
        loss = np.clip(rng.lognormal(np.log(4000), 1.0, m), 200, 300_000)
        comp_share = np.where(rng.random(m) < 0.45, 0.0, rng.uniform(0.2, 1.3, m))
        date = _year_dates(rng, w.year, m)
    elif dept == "fire":
        person = np.where(rng.random(m) < 0.9, w.first[hh], _random_member(rng, w, hh))
        loss = np.clip(rng.lognormal(np.log(7000), 1.1, m), 300, 400_000)
        comp_share = np.where(rng.random(m) < 0.8, 0.0, rng.uniform(0.1, 0.8, m))
        date = _year_dates(rng, w.year, m)
    else:
        person = np.where(rng.random(m) < 0.85, w.first[hh], _random_member(rng, w, hh))
        big = rng.random(m) < 0.04
        loss = np.where(big, rng.uniform(20_000, 160_000, m), np.clip(rng.lognormal(np.log(3000), 0.9, m), 200, 60_000))
        comp_share = np.where(rng.random(m) < 0.5, 0.0, rng.uniform(0.05, 0.5, m))
        summer = rng.random(m) < 0.6
        date = np.where(summer, np.datetime64(f"{w.year}-06-01") + rng.integers(0, 122, m), _year_dates(rng, w.year, m))
    loss_f = (loss * 100).astype(np.int64)
    loss_f = np.where(rng.random(m) < 0.6, loss_f // 10_000 * 10_000, loss_f // 100 * 100)
    loss_f = np.maximum(loss_f, 10_000)
    comp_f = (loss_f * comp_share).astype(np.int64) // 100 * 100
    d_person, d_loss, d_comp = [], [], []
    for slot, sp in zip(w.designed_slots, specs, strict=True):
        for kind, lo, co in sp.disaster:
            if kind == dept:
                d_person.append(int(w.first[slot]))
                d_loss.append(_yuan_to_fen(lo))
                d_comp.append(_yuan_to_fen(co))
    if d_person:
        person = np.concatenate([person, np.array(d_person)])
        loss_f = np.concatenate([loss_f, np.array(d_loss)])
        comp_f = np.concatenate([comp_f, np.array(d_comp)])
        date = np.concatenate([date, _year_dates(rng, w.year, len(d_person))])
    return pl.DataFrame({"person": person, "date": date, "loss": loss_f, "compensation": comp_f})




def _make_accidents(rng: np.random.Generator, w: _World, unlinkable: np.ndarray) -> pl.DataFrame:
    """Accidental injuries (意外伤害): about 3 % of people a year, one row per event and injured person.

    The loss is medical costs and lost earnings; some of it compensated (insurance, a third party), now and
    then more than all of it. ``unlinkable`` marks people whose member row is rejected (an event of theirs
    would be ``unknown_person`` by rule, not by design): they get none, nor do designed households.
    """
    P = w.n_people
    age = w.p_age[:P]
    lam = np.where(age < 16, 0.02, np.where(age < 60, 0.035, 0.03))
    cnt = rng.poisson(lam)
    cnt[w.designed[w.p_hh[:P]] | unlinkable[:P]] = 0
    person = np.repeat(np.arange(P), cnt)
    m = len(person)
    loss = np.clip(rng.lognormal(np.log(6000), 1.1, m), 300, 400_000)
    u = rng.random(m)
    comp_share = np.where(u < 0.4, 0.0, np.where(u < 0.85, rng.uniform(0.1, 0.9, m), rng.uniform(0.9, 1.3, m)))
    date = _year_dates(rng, w.year, m)
    loss_f = (loss * 100).astype(np.int64)
    loss_f = np.where(rng.random(m) < 0.5, loss_f // 10_000 * 10_000, loss_f // 100 * 100 + rng.integers(0, 100, m))
    loss_f = np.maximum(loss_f, 10_000)
    comp_f = (loss_f * comp_share).astype(np.int64) // 100 * 100
    return pl.DataFrame({"person": person, "date": date, "loss": loss_f, "compensation": comp_f})
