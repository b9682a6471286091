"""The durable_rules engine: threshold classes, threads, errors."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings

from fangpin.deciding import decide, engine_facts
from fangpin.engine import PolicyEngine, engine_for
from fangpin.errors import EngineError
from fangpin.facts import Household
from fangpin.packs import Pack
from tests.support import households, random_household


@settings(max_examples=300, deadline=None)
@given(households(paid=False))
def test_remembered_threshold_class_fires_the_same_rules_as_asking_the_engine(pack: Pack, h: Household) -> None:
    engine = engine_for(pack)
    facts = engine_facts(h, pack)

    assert engine.fire(facts) == engine.fire(facts, memo=False)


def test_the_same_households_decided_from_four_threads_match_sequential_decisions(pack: Pack) -> None:
    rng = random.Random(7)
    batch = [random_household(rng, f"H{i:04d}") for i in range(1000)]
    fresh = PolicyEngine(pack)  # a cold memo, so the threads really call durable_rules concurrently
    sequential = [decide(h, pack, PolicyEngine(pack)).canonical_json() for h in batch[:50]]

    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda h: decide(h, pack, fresh).canonical_json(), batch))

    assert threaded == [decide(h, pack).canonical_json() for h in batch]
    assert threaded[:50] == sequential


def test_engine_refuses_facts_that_are_not_integers_or_codes(pack: Pack) -> None:
    facts = {"status": "edge", "per_capita_income": 4000.5, "members": 1, "labour_capacity": 1,
             "housing_secure": 1, "illness_base": 0, "schooling_base": 0, "disaster_base": 0}

    with pytest.raises(EngineError, match="only int and str"):
        PolicyEngine(pack).fire(facts, memo=False)  # type: ignore[arg-type]


def _resident_bytes() -> int:
    """The process's resident memory (RSS), from /proc/self/statm: durable_rules allocates in C, where
    tracemalloc does not look."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc (Linux)")
def test_engine_memory_does_not_grow_with_distinct_households(pack: Pack) -> None:
    engine = PolicyEngine(pack)
    base = {"status": "exited", "per_capita_income": 100, "members": 1, "labour_capacity": 1,
            "housing_secure": 1, "illness_base": 0, "schooling_base": 0, "disaster_base": 0}
    for i in range(2000):  # warm up: the allocator's pools and the interpreter's caches reach their size
        engine.fire({**base, "illness_base": i}, memo=False)
    before = _resident_bytes()

    for i in range(2000, 22000):  # 20,000 more sessions, far beyond durable_rules' 1024 live sids
        engine.fire({**base, "illness_base": i}, memo=False)
    grown = _resident_bytes() - before

    # A state kept alive costs about 200 KB (docs/engine.md §6): 20,000 of them would be gigabytes, and even
    # the 1024 the library allows before failing about 200 MB. Deleted at once, the growth is noise.
    assert grown < 16 * 1024 * 1024, f"RSS grew by {grown / 2**20:.1f} MB over 20,000 evaluations"
    assert engine.fire({**base, "illness_base": 600000}, memo=False) == ("unstable_exit", "illness_unstable_exit")
