"""A decision as JSON (``Decision.to_json_dict``, what the API answers and replay digests) writes every amount
with at least two decimals and every rate as the pack has it. The amounts are formatted by their type
(``decisions.Amount``) as pydantic writes the model; they used to be formatted afterwards, by walking the
written document and reformatting every value under an amount's key. The walk is kept here as the reference:
on varied households of every shipped pack (derived facts included) the two must give the same document."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.deciding import decide
from fangpin.decisions import Decision
from fangpin.documents import household_from
from fangpin.money import format_exact
from fangpin.packs import Pack, load_pack
from tests.support import REPO, random_household

_AMOUNT_KEYS = frozenset({"per_capita_income", "payout", "fee", "base", "deductible", "excess", "uncapped", "cap",
                          "owed", "paid_before", "increment", "lower", "upper", "slice", "amount", "value"})


def _reformatted(node: Any) -> None:
    """The walk ``to_json_dict`` used to make over pydantic's JSON (the reference)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "effect":
                continue
            if key in _AMOUNT_KEYS and isinstance(value, str):
                node[key] = format_exact(Decimal(value))
            else:
                _reformatted(value)
    elif isinstance(node, list):
        for item in node:
            _reformatted(item)


def reference_json(decision: Decision) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(decision.model_dump(mode="json"), default=str))
    # the model's own formatting is undone first: pydantic's plain str() of each Decimal, as before
    _plain(decision, data)
    if not data["derived"]:
        del data["derived"]
    _reformatted(data)
    return data


def _plain(model: Any, data: Any) -> None:
    """Every Decimal of the model written as pydantic writes an unannotated Decimal (``str``)."""
    if isinstance(model, Decimal):
        return
    if isinstance(model, tuple | list):
        for item, written in zip(model, data, strict=True):
            if isinstance(item, Decimal):
                continue
            _plain(item, written)
        return
    fields = getattr(type(model), "model_fields", None)
    if fields is None:
        return
    for name in fields:
        value = getattr(model, name)
        if isinstance(value, Decimal):
            data[name] = str(value)
        elif value is not None:
            _plain(value, data[name])


@cache
def pack_named(name: str) -> Pack:
    return load_pack(REPO / "rules" / name)


def monitored(rng: random.Random, index: int) -> dict[str, Any]:
    """A household of the monitoring pack (2023): the four causes, derived facts, incomes about the line."""
    fen = lambda top: f"{Decimal(rng.randint(0, top * 100)) / 100:.2f}"  # noqa: E731
    return {
        "household_id": f"130434-M{index:04d}", "year": 2023, "county": "130434",
        "status": rng.choice(["exited", "never_registered", "registered_poor"]),
        "members": rng.randint(1, 6), "income_per_capita": fen(12_000),
        "labour_capacity": rng.random() < 0.8, "housing_secure": rng.random() < 0.8,
        "illness": [{"id": f"S{i}", "date": f"2023-0{1 + i}-01", "burden": fen(120_000)}
                    for i in range(rng.randint(0, 3))],
        "schooling": [{"id": "E0", "date": "2023-09-01", "stage": "本科", "full_time": True, "tuition": fen(20_000)}]
        if rng.random() < 0.4 else [],
        "disaster": [{"id": "D0", "date": "2023-07-01", "kind": "flood", "loss": fen(80_000),
                      "compensation": fen(5_000)}] if rng.random() < 0.3 else [],
        "accident": [{"id": "A0", "date": "2023-05-01", "loss": fen(60_000), "compensation": fen(10_000)}]
        if rng.random() < 0.3 else [],
        "paid_this_year": {"illness": fen(2_000)} if rng.random() < 0.3 else {},
    }


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_handan_decisions_are_written_as_the_walk_wrote_them(seed: int) -> None:
    rng = random.Random(seed)
    for pack_name in ("handan-2019", "handan-2020"):
        pack = pack_named(pack_name)
        for index in range(5):
            year = pack.meta.years[0]
            data = json.loads(json.dumps(random_household(rng, f"130434-H{index:04d}").model_dump(
                mode="json", exclude_none=True)).replace('"2019-', f'"{year}-'))
            data["year"] = year
            decision = decide(household_from(data), pack)
            assert decision.to_json_dict() == reference_json(decision)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_monitoring_decisions_with_derived_facts_are_written_as_the_walk_wrote_them(seed: int) -> None:
    rng = random.Random(seed)
    pack = pack_named("hebei-monitoring-2023")
    for index in range(5):
        decision = decide(household_from(monitored(rng, index)), pack)
        assert decision.derived  # the pack's derived facts are in the document
        assert decision.to_json_dict() == reference_json(decision)


def test_amounts_have_two_decimals_or_every_digit_and_rates_are_as_the_pack_has_them() -> None:
    """45,000 of illness for an unstable exit: the tier amounts are computed to four places (10000.0000)
    and written with two; the rates as the pack has them (0.50)."""
    data = random_household(random.Random(7), "130434-H0001").model_dump(mode="json", exclude_none=True)
    data.update(status="exited", income_per_capita="4000", labour_capacity=True, housing_secure=True,
                illness=[{"id": "S1", "date": "2019-03-01", "burden": "45000"}])
    decision = decide(household_from(data), pack_named("handan-2019"))
    assert decision.cause("illness").tiers[0].amount.as_tuple().exponent == -4  # the case is exercised
    written = decision.to_json_dict()
    illness = next(cause for cause in written["causes"] if cause["cause"] == "illness")
    assert written["per_capita_income"] == "4000.00"
    assert (illness["base"], illness["deductible"], illness["uncapped"]) == ("45000.00", "5000.00", "22000.00")
    assert [(tier["lower"], tier["rate"], tier["amount"]) for tier in illness["tiers"]] == [
        ("0.00", "0.50", "10000.00"), ("20000.00", "0.60", "12000.00")]
    assert written == reference_json(decision)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # quotes, backslashes, control characters, CJK, emoji


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), village=_TEXT, note=_TEXT, pack_name=st.sampled_from(
    ["handan-2019", "handan-2020", "hebei-monitoring-2023"]))
def test_the_written_bytes_are_json_dumps_of_the_dict(seed: int, village: str, note: str, pack_name: str) -> None:
    """``to_json_bytes`` (pydantic's serializer, what a check answers) is byte for byte what ``json.dumps`` of
    ``to_json_dict`` wrote (compact, not ASCII-escaped), for every kind of text a document may carry."""
    rng = random.Random(seed)
    pack = pack_named(pack_name)
    if pack_name == "hebei-monitoring-2023":
        data = monitored(rng, 0)
    else:
        data = json.loads(json.dumps(random_household(rng, "130434-H0001").model_dump(
            mode="json", exclude_none=True)).replace('"2019-', f'"{pack.meta.years[0]}-'))
        data["year"] = pack.meta.years[0]
    decision = decide(household_from(data), pack)
    decision = decision.model_copy(update={"village": village, "township": note or None, "notes": (note,)})
    assert decision.to_json_bytes() == json.dumps(decision.to_json_dict(), ensure_ascii=False,
                                                  separators=(",", ":")).encode()
