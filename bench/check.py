"""Single-household decisions per second on one core, and the latency of one decision.

    python bench/check.py [--households N]

Two figures: through ``decide`` with the engine's threshold-class memory warm (how a long-running
process such as the API behaves), and with every household asked of durable_rules afresh.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import random_household

from fangpin.deciding import decide, engine_facts
from fangpin.engine import PolicyEngine
from fangpin.packs import pack_for_year


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=20_000)
    args = parser.parse_args()
    pack = pack_for_year(2019)
    rng = random.Random(2019)
    batch = [random_household(rng, f"H{i}") for i in range(args.households)]

    for label, memo in (("warm threshold-class memory", True), ("durable_rules asked every time", False)):
        engine = PolicyEngine(pack)
        if not memo:
            engine.fire = lambda facts, memo=False, _f=engine.fire: _f(facts, memo=False)  # type: ignore[method-assign]
        for household in batch[:200]:
            decide(household, pack, engine)
        latencies = []
        start = time.perf_counter()
        for household in batch:
            t0 = time.perf_counter_ns()
            decide(household, pack, engine)
            latencies.append(time.perf_counter_ns() - t0)
        elapsed = time.perf_counter() - start
        latencies.sort()
        p50, p99 = statistics.median(latencies) / 1000, latencies[int(len(latencies) * 0.99)] / 1000
        print(f"{label}: {len(batch) / elapsed:,.0f} decisions/s on one core; latency p50 {p50:.0f} µs, "
              f"p99 {p99:.0f} µs")

    engine = PolicyEngine(pack)
    facts = [engine_facts(h, pack) for h in batch]
    start = time.perf_counter()
    for item in facts:
        engine.fire(item, memo=False)
    elapsed = time.perf_counter() - start
    print(f"engine alone (assert_fact + delete_state per household): {len(facts) / elapsed:,.0f} evaluations/s")


if __name__ == "__main__":
    main()
