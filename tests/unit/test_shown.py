"""What the workbook shows of a run's decisions (``reports.shown.Shown``) is the same built from the whole
frame at once or from any split of it into parts, each part's combined: the first rows of each listing, the
sums by township and by outcome, and the everything-sheet only while the run is small enough."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.reports.shown import Shown

CAUSES = ("illness", "school")
OUTCOMES = ("pay", "refer_dibao", "not_covered", "below_deductible", "already_paid")


@st.composite
def decisions(draw: st.DrawFn) -> pl.DataFrame:
    """Households with unique ids in a random order, townships and villages often repeated and sometimes
    missing, any outcome, amounts in fen."""
    count = draw(st.integers(0, 60))
    ids = draw(st.permutations([f"H{n:03d}" for n in range(count)]))
    place = st.one_of(st.none(), st.sampled_from(["甲乡", "乙乡", "丙镇"]))
    village = st.one_of(st.none(), st.sampled_from(["一村", "二村"]))
    fen = st.integers(0, 5_000_000)
    rows = [{"household_id": household, "township": draw(place), "village": draw(village),
             "head_name": draw(st.sampled_from(["张三", "李四", None])),
             "group": draw(st.sampled_from(["edge", "unstable", None])), "outcome": draw(st.sampled_from(OUTCOMES)),
             "per_capita_income": draw(fen), "illness": draw(fen), "school": draw(fen), "payout": draw(fen),
             "fee": draw(fen), "rules": draw(st.sampled_from(["edge", "edge,illness_edge", ""]))}
            for household in ids]
    schema = {"household_id": pl.String, "township": pl.String, "village": pl.String, "head_name": pl.String,
              "group": pl.String, "outcome": pl.String, "per_capita_income": pl.Int64, "illness": pl.Int64,
              "school": pl.Int64, "payout": pl.Int64, "fee": pl.Int64, "rules": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _same(one: Shown, other: Shown) -> None:
    assert (one.causes, one.limit, one.everything_limit) == (other.causes, other.limit, other.everything_limit)
    for name in ("visits", "dibao", "townships", "outcomes"):
        assert getattr(one, name).equals(getattr(other, name)), name
    if one.everything is None or other.everything is None:
        assert one.everything is None and other.everything is None
    else:
        assert one.everything.equals(other.everything)


@settings(max_examples=200, deadline=None)
@given(frame=decisions(), parts=st.integers(1, 6), limit=st.integers(1, 12), everything_limit=st.integers(0, 70),
       seed=st.integers(0, 1_000))
def test_the_parts_of_a_split_combined_show_what_the_whole_shows(
    frame: pl.DataFrame, parts: int, limit: int, everything_limit: int, seed: int
) -> None:
    part = (pl.col("household_id").hash(seed) % parts).alias("_part")
    pieces = [Shown.of(frame.filter(part == index), CAUSES, limit=limit, everything_limit=everything_limit)
              for index in range(parts)]

    whole = Shown.of(frame.lazy(), CAUSES, limit=limit, everything_limit=everything_limit)
    combined = Shown.combined(pieces)
    one_at_a_time = pieces[0]
    for piece in pieces[1:]:
        one_at_a_time = Shown.combined([one_at_a_time, piece])

    _same(combined, whole)
    _same(one_at_a_time, whole)
    assert whole.visits.height == min(limit, frame.filter(pl.col("outcome") == "pay").height)
    assert whole.height("pay") == frame.filter(pl.col("outcome") == "pay").height
    assert whole.households == frame.height
    assert (whole.everything is None) == (frame.height > everything_limit)
    assert whole.townships["payout"].sum() == frame.filter(pl.col("outcome") == "pay")["payout"].sum()


def _five(outcome: str = "pay") -> pl.DataFrame:
    return pl.DataFrame({
        "household_id": ["H5", "H1", "H3", "H2", "H4"], "township": ["乙乡", None, "甲乡", "甲乡", "甲乡"],
        "village": ["一村", "一村", None, "二村", "二村"], "head_name": ["某"] * 5, "group": [None] * 5,
        "outcome": [outcome] * 5, "per_capita_income": [1] * 5, "illness": [1] * 5, "school": [0] * 5,
        "payout": [1] * 5, "fee": [0] * 5, "rules": [""] * 5,
    }, schema_overrides={"group": pl.String})


def test_the_listings_are_the_first_rows_by_township_village_and_household_nulls_last() -> None:
    shown = Shown.of(_five(), CAUSES, limit=4)

    assert shown.visits["household_id"].to_list() == ["H5", "H2", "H4", "H3"]  # 乙 (U+4E59) before 甲
    assert shown.height("pay") == 5


def test_what_is_shown_reads_back_as_written(tmp_path: Path) -> None:
    small = Shown.of(pl.concat([_five(), _five("refer_dibao").with_columns(pl.col("household_id") + "d")]), CAUSES,
                     limit=3, everything_limit=100)
    large = Shown.of(_five(), CAUSES, limit=3, everything_limit=4)  # no 全部结果 rows

    small.write(tmp_path / "small")
    large.write(tmp_path / "large")

    _same(Shown.read(tmp_path / "small"), small)
    _same(Shown.read(tmp_path / "large"), large)
    assert small.everything is not None and small.dibao.height == 3 and large.everything is None


def test_pieces_cut_at_different_limits_are_not_combined() -> None:
    with pytest.raises(ValueError, match="different limits"):
        Shown.combined([Shown.of(_five(), CAUSES, limit=3), Shown.of(_five(), CAUSES, limit=4)])
