"""Time `fangpin simulate` beside `fangpin screen` of the same synthetic drop, measured in the same run.

    python bench/simulate.py --households 100000 [1000000] [--seed 1] [--pack rules/handan-2020] [--keep]

Each size: the drop is generated (cached under /tmp/fangpin-bench, shared with bench/screen.py), screened in
a fresh process against a fresh SQLite database (the reference), then that stored run is simulated under
the pack (default handan-2020, the 2020 poverty line) in another fresh process, writing impact.json and
impact.xlsx. Printed: both wall times, their ratio, the simulation's stages, peak memory, and the figures
(households changed, entering, payout before → after), so a run can be checked as well as timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screen import CACHE, CHILD, ROOT, generate  # bench/ is not a package: its folder is on the path

SIMULATE = """
import json, sys, time
from pathlib import Path
from fangpin.db.session import session_scope
from fangpin.reports.impact import write_impact
from fangpin.services.simulate import simulate
db, run_id, pack, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
start = time.perf_counter()
with session_scope(db) as session:
    result = simulate(session, [run_id], pack)
decided = time.perf_counter()
write_impact(out, result.impact, result.diff, result.cause_labels)
wall = time.perf_counter() - start
# this process's peak since it started (VmHWM): ru_maxrss would count the parent's resident memory at the
# fork (the benchmark that generated the drop: 5 GiB at 1M), which the child never used
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
totals = result.impact["totals"]
print(json.dumps({"wall": wall, "simulate": decided - start, "write": wall - (decided - start), "peak": peak,
                  "households": totals["households"], "changed": totals["households_changed"],
                  "entering": totals["entering"], "leaving": totals["leaving"],
                  "payout_before": totals["payout_before"], "payout_after": totals["payout_after"]}))
"""


def _child(script: str, *args: str) -> dict[str, object]:
    output = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False)
    if output.returncode != 0:
        print(output.stderr)
        raise SystemExit(output.returncode)
    figures: dict[str, object] = json.loads(output.stdout.strip().splitlines()[-1])
    return figures


def _run_id(out: Path) -> str:
    return str(json.loads((out / "run.json").read_text("utf-8"))["run_id"])


def _yuan(fen: object) -> str:
    value = int(str(fen))
    return f"{value // 100:,}.{value % 100:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pack", type=Path, default=ROOT / "rules" / "handan-2020")
    parser.add_argument("--keep", action="store_true", help="keep the generated drops for the next run")
    args = parser.parse_args()
    for households in args.households:
        print(f"{households:,} households, simulated under {args.pack}")
        drop = generate(households, args.seed)
        work = CACHE / f"simulate-{households}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        os.sync()  # as bench/screen.py: the drop's writeback is not charged to the screening
        database = f"sqlite:///{work / 'bench.db'}"
        screened = _child(CHILD, str(drop), database, str(work / "out"), "2019", "")  # year; the shipped pack
        simulated = _child(SIMULATE, database, _run_id(work / "out"), str(args.pack), str(work / "impact"))
        screen_wall, simulate_wall = float(str(screened["wall"])), float(str(simulated["wall"]))
        print(f"  screen (reference, this run): wall {screen_wall:.1f} s")
        decide = float(str(simulated["simulate"]))
        print(f"  simulate: wall {simulate_wall:.1f} s = re-decide and compare {decide:.1f} s"
              f" + impact.json/xlsx {float(str(simulated['write'])):.1f} s; peak memory "
              f"{float(str(simulated['peak'])) / 2**30:.2f} GiB")
        print(f"  simulate / screen: {simulate_wall / screen_wall:.2f} "
              f"({'faster' if simulate_wall < screen_wall else 'SLOWER'} than screening the same drop)")
        print(f"  figures: {simulated['households']:,} households, {simulated['changed']:,} changed, "
              f"{simulated['entering']:,} enter and {simulated['leaving']:,} leave payment; payout "
              f"{_yuan(simulated['payout_before'])} → {_yuan(simulated['payout_after'])} yuan")
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(drop, ignore_errors=True)


if __name__ == "__main__":
    main()
