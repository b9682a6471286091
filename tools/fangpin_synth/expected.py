"""The decisions a correct screener returns for a drop under the default 2019 pack (docs/policy.md),
computed here independently in integer fen: the oracle the screening tests compare against."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from .contract import COMPULSORY, EXPECTED_DECISIONS_MAX_HOUSEHOLDS, STATUS_EXITED, STATUS_NEVER, STATUS_POOR
from .manifest import _fen_str, _half_up_div
from .tables import _Drop

_ILLNESS_DED = {"unstable_exit": 500_000, "edge": 2_000_000}
_SCHOOL_DED = 800_000
_DISASTER_DED = 1_000_000


def _tiers(excess: np.ndarray, bounds: Sequence[int], rates: Sequence[int], cap_fen: int) -> np.ndarray:
    """Tiered amount (fen): slices of the excess at rates (percent), capped, then rounded half-up."""
    num = np.zeros_like(excess)
    lo = 0
    for hi, rate in zip([*bounds, None], rates, strict=True):
        top = excess if hi is None else np.minimum(excess, hi)
        num += np.maximum(0, top - lo) * rate
        if hi is not None:
            lo = hi
    num = np.minimum(num, cap_fen * 100)
    out: np.ndarray = (num + 50) // 100
    return out


def _expected(drop: _Drop) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    w = drop.world
    n = w.n
    reg = drop.tables["household_register"].df
    base = reg.filter(pl.col("_uid") < n).sort("hh")
    used = ~drop.hh_bad
    # per capita as a screener reads it
    inc = base["income"].to_numpy() if "income" in drop.tables["household_register"].fields else None
    if "income" in drop.tables["household_register"].fields:
        inc_s = base["income"]
        has_pc = "income_per_capita" in drop.tables["household_register"].fields
        pc_given = base["income_per_capita"] if has_pc else None
        pc = np.where(
            inc_s.is_not_null().to_numpy(),
            _half_up_div(inc_s.fill_null(0).to_numpy(), w.members),
            pc_given.fill_null(0).to_numpy() if pc_given is not None else 0,
        )
    else:
        pc = base["income_per_capita"].to_numpy()
    del inc
    housing_txt = base["housing_secure"].to_numpy()
    housing = np.isin(housing_txt, ["是", "Y", "1"])
    # labour capacity from used member rows
    mem = drop.tables["members"].df.filter(pl.col("_reason").is_null())
    able = np.bincount(mem["hh"].to_numpy(), weights=mem["able"].to_numpy().astype(float), minlength=n) > 0

    def used_events(dept: str) -> pl.DataFrame:
        return drop.tables[dept].df.filter(pl.col("_reason").is_null() & ~pl.col("_superseded"))

    med = used_events("medical")
    burden = (med["total"] - med["basic"] - med["critical"].fill_null(0) - med["assistance"].fill_null(0)).to_numpy()
    ill = np.bincount(med["hh"].to_numpy(), weights=burden, minlength=n).astype(np.int64)
    edu = used_events("education").filter(
        (pl.col("full_time") == "全日制") & ~pl.col("stage").is_in(list(COMPULSORY))
    )
    fees = (edu["tuition"].fill_null(0) + edu["accommodation"].fill_null(0) + edu["textbooks"].fill_null(0)).to_numpy()
    sch = np.bincount(edu["hh"].to_numpy(), weights=fees, minlength=n).astype(np.int64)
    dis = np.zeros(n, dtype=np.int64)
    for dept in ("traffic", "fire", "disaster"):
        e = used_events(dept)
        own = np.maximum(0, (e["loss"].fill_null(0) - e["compensation"].fill_null(0)).to_numpy())
        dis += np.bincount(e["hh"].to_numpy(), weights=own, minlength=n).astype(np.int64)
    # float bincount is exact below 2**53 fen

    group = np.where(w.status == STATUS_EXITED, "unstable_exit", np.where(w.status == STATUS_NEVER, "edge", ""))
    covered = (w.status != STATUS_POOR) & (pc < 480_000)
    dibao = covered & ~able & housing
    ded_ill = np.where(w.status == STATUS_EXITED, _ILLNESS_DED["unstable_exit"], _ILLNESS_DED["edge"])
    a_ill = _tiers(np.maximum(0, ill - ded_ill), (2_000_000, 5_000_000), (50, 60, 70), 10_000_000)
    a_sch = _tiers(np.maximum(0, sch - _SCHOOL_DED), (1_000_000,), (50, 60), 3_000_000)
    a_dis = _tiers(np.maximum(0, dis - _DISASTER_DED), (), (50,), 5_000_000)
    pays = covered & ~dibao
    a_ill, a_sch, a_dis = (np.where(pays, a, 0) for a in (a_ill, a_sch, a_dis))
    payout = a_ill + a_sch + a_dis
    fee = (payout * 15 + 50) // 100
    outcome = np.where(
        ~covered, "not_covered", np.where(dibao, "refer_dibao", np.where(payout > 0, "pay", "below_deductible"))
    )
    group = np.where(covered, group, "")
    hid = w.hh_id.to_list()
    decisions = []
    if n <= EXPECTED_DECISIONS_MAX_HOUSEHOLDS:
        for i in np.nonzero(used)[0].tolist():
            decisions.append({
                "household_id": hid[i], "group": str(group[i]), "outcome": str(outcome[i]),
                "per_capita_income": _fen_str(int(pc[i])), "illness": _fen_str(int(a_ill[i])),
                "schooling": _fen_str(int(a_sch[i])), "disaster": _fen_str(int(a_dis[i])),
                "payout": _fen_str(int(payout[i])), "fee": _fen_str(int(fee[i])),
                "bases": {"illness": _fen_str(int(ill[i])), "schooling": _fen_str(int(sch[i])),
                          "disaster": _fen_str(int(dis[i]))},
                "labour_capacity": bool(able[i]), "housing_secure": bool(housing[i]),
            })
    outc = {k: int(((outcome == k) & used).sum()) for k in
            ("not_covered", "refer_dibao", "below_deductible", "already_paid", "pay")}
    summary = {
        "decisions": int(used.sum()),
        "outcomes": outc,
        "paid_by_cause": {
            "illness": int(((a_ill > 0) & used).sum()), "schooling": int(((a_sch > 0) & used).sum()),
            "disaster": int(((a_dis > 0) & used).sum()),
        },
        "payout_total": _fen_str(int(payout[used].sum())),
        "fee_total": _fen_str(int(fee[used].sum())),
        "illness_total": _fen_str(int(a_ill[used].sum())),
        "schooling_total": _fen_str(int(a_sch[used].sum())),
        "disaster_total": _fen_str(int(a_dis[used].sum())),
    }
    return decisions, summary


