"""Bulk decisions equal single decisions, household by household."""

from __future__ import annotations

import random

import polars as pl

from fangpin.deciding import decide, engine_facts
from fangpin.money import to_fen
from fangpin.packs import Pack
from fangpin.screening.bulk import decide_frame
from tests.support import random_household


def test_every_household_of_a_bulk_frame_gets_the_single_check_decision(pack: Pack) -> None:
    rng = random.Random(11)
    households = [random_household(rng, f"H{i:05d}") for i in range(3000)]
    rows = []
    for h in households:
        row: dict[str, object] = {"household_id": h.household_id, **engine_facts(h, pack)}
        row.update({f"{c}_paid_before": to_fen(h.paid_of(c)) for c in pack.cause_ids})
        rows.append(row)

    bulk = decide_frame(pl.DataFrame(rows), pack)

    for h, got in zip(households, bulk.iter_rows(named=True), strict=True):
        single = decide(h, pack)
        assert got["household_id"] == single.household_id
        assert (got["group"], got["outcome"]) == (single.group, single.outcome), h.household_id
        for result in single.causes:
            assert got[result.cause] == to_fen(result.increment)
            assert got[f"{result.cause}_owed"] == to_fen(result.owed)
        assert (got["payout"], got["fee"]) == (to_fen(single.payout), to_fen(single.fee))
        assert got["rules"].split(",") == [rule.id for rule in single.rules]


def test_an_empty_frame_decides_nothing(pack: Pack) -> None:
    empty = pl.DataFrame(schema={"household_id": pl.String, "status": pl.String, "per_capita_income": pl.Int64,
                                 "members": pl.Int64, "labour_capacity": pl.Int64, "housing_secure": pl.Int64,
                                 "illness_base": pl.Int64, "schooling_base": pl.Int64, "disaster_base": pl.Int64,
                                 "illness_paid_before": pl.Int64, "schooling_paid_before": pl.Int64,
                                 "disaster_paid_before": pl.Int64})

    assert decide_frame(empty, pack).height == 0
