"""The synthetic world: households and people, with valid (or deliberately invalid) ID numbers.

Length: over 300 lines because every random draw of the world is made here in one fixed order: the seeded
streams (and so every generated drop, the shipped demo included) depend on that order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from .contract import (
    _CHECK_W,
    _LOCAL_W,
    _RELATIONS,
    _STATUS_ALL,
    _SURNAME_W,
    _VILLAGE_CORE,
    _VILLAGE_PRE,
    _VILLAGE_SUF,
    GIVEN_F,
    GIVEN_M,
    REGIONS_NEW,
    REGIONS_OLD,
    REGIONS_OTHER,
    STATUS_EXITED,
    STATUS_NEVER,
    STATUS_POOR,
    STATUS_TEXTS,
    SURNAMES,
    TOWNSHIPS,
)
from .manifest import HouseholdSpec, _half_up_div, _yuan_to_fen


@dataclass
class _World:
    n: int
    year: int
    county: str
    hh_id: pl.Series
    members: np.ndarray
    listed: np.ndarray
    first: np.ndarray
    status: np.ndarray  # STATUS_*
    status_txt: pl.Series
    income_fen: np.ndarray
    pc_fen: np.ndarray  # per capita as the register's own per-capita column shows it
    housing: np.ndarray  # bool
    township: pl.Series
    village: pl.Series
    designed: np.ndarray  # bool per household
    designed_slots: list[int]
    # people (households' people first, then outsiders)
    n_people: int  # people in households
    p_hh: np.ndarray  # -1 for outsiders
    p_pos: np.ndarray
    p_age: np.ndarray
    p_sex: np.ndarray
    p_labour: np.ndarray  # index into LABOUR
    p_id: pl.Series
    p_name: pl.Series
    p_rel: pl.Series
    next_outsider: int = 0
    block: tuple[int, int] = (0, 1)  # (index, count): a part of a larger drop made block by block

    def take_outsiders(self, k: int) -> np.ndarray:
        start = self.n_people + self.next_outsider
        if self.next_outsider + k > len(self.p_hh) - self.n_people:
            raise RuntimeError("outsider pool exhausted")
        self.next_outsider += k
        return np.arange(start, start + k)


def _choice_idx(rng: np.random.Generator, n: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.cumsum(np.asarray(weights, dtype=float))
    idx = np.searchsorted(w / w[-1], rng.random(n), side="right")
    return np.minimum(idx, len(w) - 1)


def _pick(values: Sequence[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(idx)


_DAY0 = np.datetime64("1850-01-01")
_DAYS = _DAY0 + np.arange(0, 365 * 300, dtype=np.int64)
_DAYS_Y = _DAYS.astype("datetime64[Y]").astype(np.int64) + 1970
_DAYS_M = _DAYS.astype("datetime64[M]").astype(np.int64) % 12 + 1
_DAYS_D = (_DAYS - _DAYS.astype("datetime64[M]")).astype(np.int64) + 1


def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = (d - _DAY0).astype(np.int64)
    return _DAYS_Y[i], _DAYS_M[i], _DAYS_D[i]


def _ids_for(
    rng: np.random.Generator, year: int, age: np.ndarray, sex: np.ndarray, local: np.ndarray,
    block: tuple[int, int] = (0, 1),
) -> tuple[pl.Series, np.ndarray]:
    """Unique, valid 18-character ID numbers (GB 11643) and the birth dates they carry. ``block`` (index,
    count): block k > 0 of a larger drop has its people's region codes k hundred higher (a neighbouring county
    of the same prefecture), so that ID numbers of different blocks never meet."""
    m = len(age)
    birth_year = year - age
    start = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    ndays = np.where((birth_year % 4 == 0) & ((birth_year % 100 != 0) | (birth_year % 400 == 0)), 366, 365)
    birth = start + (rng.random(m) * ndays).astype(np.int64)
    by, bm, bd = _ymd(birth)
    ymd = by * 10000 + bm * 100 + bd
    old = np.array(REGIONS_OLD)[_choice_idx(rng, m, _LOCAL_W)]
    new = np.array(REGIONS_NEW)[_choice_idx(rng, m, _LOCAL_W)]
    other = np.array(REGIONS_OTHER)[rng.integers(0, len(REGIONS_OTHER), m)]
    use_new = (by > 1993) | ((by == 1993) & (rng.random(m) < 0.5))
    region = np.where(local, np.where(use_new, new, old), other).astype(np.int64) + block[0] * 100
    key = (region * 100_000_000 + ymd) * 2 + sex
    # rank of each person among those sharing region, birth date and sex (in input order)
    rank = pl.DataFrame({"k": key}).select(pl.int_range(pl.len(), dtype=pl.Int64).over("k")).to_series().to_numpy()
    if m and rank.max() >= 500:
        raise RuntimeError("too many people share a region and birth date")
    base = (key % 1_000_003) * 7919 % 500 * 2
    seq = (base + 2 * rank + sex) % 1000
    id17 = region * 100_000_000_000 + ymd * 1000 + seq
    # weighted digit sum, piecewise: region (6 digits), birth date (8), sequence (3)
    s = np.zeros(m, dtype=np.int64)
    for part, weights in ((region, _CHECK_W[:6]), (ymd, _CHECK_W[6:14]), (seq, _CHECK_W[14:17])):
        rest = part.copy()
        for wt in weights[::-1]:
            s += (rest % 10) * int(wt)
            rest //= 10
    chk = (12 - s % 11) % 11
    chk_s = pl.Series(list("0123456789X"), dtype=pl.String)  # value 10 is written X
    ids = pl.Series(id17).cast(pl.String) + chk_s.gather(chk)
    return ids, birth


_GIVEN = GIVEN_M + GIVEN_F + ("",)


def _names(rng: np.random.Generator, surname_idx: np.ndarray, sex: np.ndarray) -> pl.Series:
    m = len(sex)
    two = rng.random(m) < 0.7
    male = sex == 1
    nm = len(GIVEN_M)
    g1 = np.where(male, rng.integers(0, nm, m), nm + rng.integers(0, len(GIVEN_F), m))
    g2 = np.where(male, rng.integers(0, nm, m), nm + rng.integers(0, len(GIVEN_F), m))
    g2 = np.where(two, g2, len(_GIVEN) - 1)
    return pl.select(
        pl.concat_str([pl.lit(_pick(SURNAMES, surname_idx)), pl.lit(_pick(_GIVEN, g1)), pl.lit(_pick(_GIVEN, g2))])
    ).to_series()


def _make_world(
    rng: np.random.Generator, n: int, year: int, county: str, specs: Sequence[HouseholdSpec], n_outsiders: int,
    block: tuple[int, int] = (0, 1),
) -> _World:
    if n < 1:
        raise ValueError("households must be >= 1")
    if len(specs) > n:
        raise ValueError("more designed households than households")
    width = max(6, len(str(n * block[1])))
    first_number = 1 + block[0] * n
    hh_id = pl.select(
        pl.lit(f"{county}-") + pl.Series(np.arange(first_number, first_number + n)).cast(pl.String).str.zfill(width)
    ).to_series()

    members = rng.choice(np.arange(1, 7), size=n, p=[0.08, 0.2, 0.22, 0.25, 0.15, 0.1])
    missing = (members >= 2) & (rng.random(n) < 0.04)
    status = _choice_idx(rng, n, (0.30, 0.55, 0.15))
    housing = rng.random(n) < 0.88
    # per capita income (fen) around the 4800 line
    u = rng.random(n)
    pc_target = np.where(
        u < 0.62,
        np.clip(rng.normal(520_000, 140_000, n), 60_000, 2_000_000),
        rng.uniform(400_000, 560_000, n),
    ).astype(np.int64)
    v = rng.random(n)
    pc_target = np.where(v < 0.03, 480_000, pc_target)
    pc_target = np.where((v >= 0.03) & (v < 0.05), 479_999, pc_target)
    pc_target = np.where((v >= 0.05) & (v < 0.06), 480_001, pc_target)
    rem = (rng.random(n) * members).astype(np.int64)
    rem = np.where(v < 0.06, 0, rem)
    income = pc_target * members + rem
    edge_round = (v >= 0.06) & (v < 0.065) & (members >= 2)  # (4800*m - 0.01) / m rounds up to 4800.00
    income = np.where(edge_round, 480_000 * members - 1, income)

    slots = [int(i * n // len(specs)) for i in range(len(specs))] if specs else []
    designed = np.zeros(n, dtype=bool)
    spec_status = {"脱贫户": STATUS_EXITED, "未脱贫户": STATUS_POOR, "贫困户": STATUS_POOR}
    status_txt_over: dict[int, str] = {}
    for slot, sp in zip(slots, specs, strict=True):
        designed[slot] = True
        members[slot] = sp.members
        missing[slot] = False
        status[slot] = spec_status.get(sp.status, STATUS_NEVER)
        status_txt_over[slot] = sp.status
        housing[slot] = sp.housing_secure
        if sp.income is not None:
            income[slot] = _yuan_to_fen(sp.income)
        else:
            assert sp.per_capita is not None
            income[slot] = _yuan_to_fen(sp.per_capita) * sp.members
    pc_fen = _half_up_div(income, members)

    st_code = np.zeros(n, dtype=np.int64)
    for code, (texts, w_) in STATUS_TEXTS.items():
        mask = status == code
        offs = np.array([_STATUS_ALL.index(t) for t in texts])
        st_code[mask] = offs[_choice_idx(rng, int(mask.sum()), w_)]
    for slot, txt in status_txt_over.items():
        st_code[slot] = _STATUS_ALL.index(txt)
    status_txt = _pick(_STATUS_ALL, st_code)

    # villages: contiguous blocks of about 150 households
    n_vill = max(min(n, 4), n // 150)
    vill_of_hh = (np.arange(n) * n_vill) // n
    v_town = rng.integers(0, len(TOWNSHIPS), n_vill)
    vn = (
        _pick(_VILLAGE_PRE, rng.integers(0, len(_VILLAGE_PRE), n_vill))
        + _pick(_VILLAGE_CORE, rng.integers(0, len(_VILLAGE_CORE), n_vill))
        + _pick(_VILLAGE_SUF, rng.integers(0, len(_VILLAGE_SUF), n_vill))
        + "村"
    )
    township = _pick(TOWNSHIPS, v_town[vill_of_hh])
    village = vn.gather(vill_of_hh)

    listed = members - missing
    P = int(listed.sum())
    first = np.cumsum(listed) - listed
    p_hh = np.repeat(np.arange(n), listed)
    p_pos = np.arange(P) - first[p_hh]
    h_listed = listed[p_hh]
    r = rng.random(P)
    head_age_h = np.where(listed == 1, 45 + rng.integers(0, 46, n), 26 + rng.integers(0, 50, n))
    head_age = head_age_h[p_hh]
    # roles: 0 head, 1 spouse, 2 child, 3 grandchild, 4 elder parent
    role = np.full(P, 2, dtype=np.int64)
    role[p_pos == 0] = 0
    role[(p_pos == 1) & (r < 0.85)] = 1
    elder = (p_pos >= 2) & (p_pos == h_listed - 1) & (head_age < 62) & (rng.random(P) < 0.25)
    role[elder] = 4
    age = np.where(role == 0, head_age, 0)
    age = np.where(role == 1, np.clip(head_age + rng.integers(-5, 5, P), 20, 95), age)
    child_age = np.clip(head_age - rng.integers(20, 38, P), 0, None)
    grand = (role == 2) & (head_age >= 58) & (rng.random(P) < 0.5)
    child_age = np.where(grand, np.clip(head_age - rng.integers(45, 62, P), 0, None), child_age)
    role[grand] = 3
    age = np.where((role == 2) | (role == 3), child_age, age)
    age = np.where(role == 4, np.minimum(head_age + rng.integers(20, 30, P), 96), age)
    head_sex = (rng.random(n) < 0.88).astype(np.int64)
    sex = rng.integers(0, 2, P)
    sex = np.where(role == 0, head_sex[p_hh], sex)
    sex = np.where(role == 1, 1 - head_sex[p_hh], sex)

    # labour by age
    lab = np.full(P, 4, dtype=np.int64)
    a = age
    m1 = (a >= 16) & (a <= 22)
    lab[m1] = np.where(rng.random(int(m1.sum())) < 0.5, 1, 4)
    m2 = (a >= 23) & (a <= 59)
    lab[m2] = _choice_idx(rng, int(m2.sum()), (0.25, 0.58, 0.08, 0.06, 0.03))
    m3 = (a >= 60) & (a <= 69)
    lab[m3] = _choice_idx(rng, int(m3.sum()), (0.03, 0.25, 0.42, 0.2, 0.1))
    m4 = a >= 70
    lab[m4] = _choice_idx(rng, int(m4.sum()), (0.001, 0.03, 0.15, 0.5, 0.319))

    # designed households: ages that fit their story, labour as specified
    for slot, sp in zip(slots, specs, strict=True):
        f0, k = int(first[slot]), int(listed[slot])
        idx = np.arange(f0, f0 + k)
        if sp.labour:
            age[idx[0]] = 46
            lab[idx[0]] = 1
            role[idx[0]] = 0
            for j, i in enumerate(idx[1:]):
                role[i] = 1 if j == 0 else 2
                age[i] = 44 if j == 0 else 14 + 3 * j
                lab[i] = 1 if j == 0 else 4
            if sp.schooling:
                for j, (stage, *_rest) in enumerate(sp.schooling[: max(0, k - 2)]):
                    age[idx[2 + j]] = {"普通高中": 17, "高中": 16, "中职": 16, "中等职业教育": 17, "初中": 13,
                                       "小学": 9, "本科": 20, "高职": 19, "大专": 21, "专科": 20}.get(stage, 22)
                    lab[idx[2 + j]] = 4
        else:
            for j, i in enumerate(idx):
                role[i] = 0 if j == 0 else 1
                age[i] = 74 - 2 * j
                lab[i] = 3 if j == 0 else 4
    # the schooling students of designed households must be >= 2 children deep; members >= 3 there

    surname_h = _choice_idx(rng, n, _SURNAME_W)
    sur = surname_h[p_hh]
    other_sur = _choice_idx(rng, P, _SURNAME_W)
    sur = np.where((role == 1) | ((role == 4) & (sex == 0)), other_sur, sur)

    R = _RELATIONS.index
    rel = np.zeros(P, dtype=np.int64)
    rr = rng.random(P)
    k4 = rng.integers(0, 4, P)
    rel = np.where(role == 0, np.where(rr < 0.9, R("户主"), R("本人")), rel)
    rel = np.where(role == 1, np.where(rr < 0.7, R("配偶"), np.where(sex == 1, R("夫"), R("妻"))), rel)
    rel = np.where(role == 2, np.where(sex == 1, R("之子") + k4, R("之女") + k4), rel)
    rel = np.where(role == 3, np.where(sex == 1, R("孙子"), R("孙女")), rel)
    rel = np.where(role == 4, np.where(sex == 1, R("父亲"), R("母亲")), rel)

    # outsiders: people in no household (for unknown_person / unknown_household rows)
    o_age = rng.integers(18, 71, n_outsiders)
    o_sex = rng.integers(0, 2, n_outsiders)
    all_age = np.concatenate([age, o_age])
    all_sex = np.concatenate([sex, o_sex])
    local = rng.random(P + n_outsiders) < 0.82
    ids, _birth = _ids_for(rng, year, all_age, all_sex, local, block)
    all_sur = np.concatenate([sur, _choice_idx(rng, n_outsiders, _SURNAME_W)])
    names = _names(rng, all_sur, all_sex)
    rel_all = _pick(_RELATIONS, np.concatenate([rel, np.zeros(n_outsiders, dtype=np.int64)]))
    lab_all = np.concatenate([lab, np.ones(n_outsiders, dtype=np.int64)])
    return _World(
        n=n, year=year, county=county, hh_id=hh_id, members=members, listed=listed, first=first,
        status=status, status_txt=status_txt, income_fen=income, pc_fen=pc_fen, housing=housing,
        township=township, village=village, designed=designed, designed_slots=slots,
        n_people=P, p_hh=np.concatenate([p_hh, np.full(n_outsiders, -1)]),
        p_pos=np.concatenate([p_pos, np.zeros(n_outsiders, dtype=np.int64)]),
        p_age=all_age, p_sex=all_sex, p_labour=lab_all, p_id=ids, p_name=names, p_rel=rel_all, block=block,
    )


