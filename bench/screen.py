"""Time `fangpin screen` end to end on a synthetic drop of N households built to the export contract (docs/exports.md).

    python bench/screen.py --households 100000 [300000 1000000] [--seed 1] [--keep]
    python bench/screen.py --households 1000000 --against ../before --repeat 3 --keep
    python bench/screen.py --households 1000000 --year 2023 --accidents --pack rules/hebei-monitoring-2023
    python bench/screen.py --households 300000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Each size: the drop is generated (cached under /tmp/fangpin-bench), then screened in a fresh process
against a fresh SQLite database; printed: wall seconds per stage, rows per second, peak memory (RSS).

``--against DIR`` names another checkout of fangpin with its own ``.venv`` (an earlier commit, say): the
same drop is then screened by both, alternately, ``--repeat`` times each, and the medians are printed side
by side with their ratio, and each stage's beside the other's, so that a before/after comparison is measured in
one run on one machine (up to 300,000 households the other checkout first runs once, uncounted). CPU
seconds (this process and its workers) are printed beside wall seconds: on a loaded machine they move
less than wall time.

Beside each size, a polars-only reference of the same drop (bench/screen_reference.py: read, parse, link,
decide in integer fen, no storage) runs in its own fresh process, alternately with fangpin, ``--repeat``
times each; the medians are printed side by side with their ratio, and whether the reference found the same
households and payout (it must: otherwise it did not do the same job). ``--no-reference`` leaves it out; it
runs only under a format-1 pack (parameters.yaml and rules.yaml) on an all-CSV drop.

``--linear`` (two sizes, ``--households 1000000 5000000``): is the time linear in the drop? Three runs a
round, ``--repeat`` rounds: the small drop as it runs by default, the small drop in partitions of the large
one's size (``FANGPIN_SCREEN_PARTITIONS``), the large drop. Each stage's median of the large is printed
beside the small's times the ratio of their rows read, with the ratio of the two; runs minutes apart on a
machine whose speed drifts are compared only within the same rounds. Each run also prints the seconds the
machine's cores were stolen by its host and waited for the disk (``/proc/stat``): a run that lost more to
either is not like the others.

``--year`` is the policy year of the drop and of the screening (default 2019), ``--pack DIR`` a rule pack
to screen under (default: the shipped pack of the year), ``--accidents`` adds the accident export (意外伤害,
docs/exports.md section 5) to the drop, read only by packs with the accident cause; such drops are cached
under their own names.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path("/tmp/fangpin-bench")
WARM_UP_HOUSEHOLDS = 300_000  # --against: up to this size, the other checkout runs once first, uncounted

CHILD = """
import json, os, sys, threading, time
from pathlib import Path
from fangpin.services.screening import ScreenRequest, screen
drop, db, out, year, pack = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
PAGE = os.sysconf("SC_PAGE_SIZE")
def tree_rss(pid):  # resident bytes of a process and all its descendants (parse workers, the workbook's process)
    total = 0
    try:
        total += int(open(f"/proc/{pid}/statm").read().split()[1]) * PAGE
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in open(f"/proc/{pid}/task/{task}/children").read().split():
                total += tree_rss(int(child))
    except (OSError, ValueError):
        pass
    return total
stage, peaks, own, done = ["start"], {}, {}, threading.Event()
def sample():
    while not done.wait(0.05):
        rss, mine = tree_rss(os.getpid()), int(open("/proc/self/statm").read().split()[1]) * PAGE
        peaks[stage[0]] = max(peaks.get(stage[0], 0), rss)
        own[stage[0]] = max(own.get(stage[0], 0), mine)
def progress(name, done_, total):
    # a stage reports its progress while it runs, and its name once more as it ends: the samples after that
    # belong to the stage after it
    stage[0] = name if done_ < total else "after:" + name
threading.Thread(target=sample, daemon=True).start()
start = time.perf_counter()
result = screen(ScreenRequest(drop=drop, year=year, county="130434", database_url=db, out_dir=out,
                              pack_dir=Path(pack) if pack else None), progress)
wall = time.perf_counter() - start
done.set()
# this process's peak since it started (VmHWM): ru_maxrss would count the parent's resident memory at the
# fork (the benchmark that generated the drop: 5 GiB at 1M), which the child never used
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
stages = list(result.run["seconds"])
def by_stage(sampled):  # the samples taken after a stage ended belong to the stage after it
    after = {}
    for name, rss in sampled.items():
        if name.startswith("after:"):
            ended = name[len("after:"):]
            name = (stages[stages.index(ended) + 1] if ended in stages and stages.index(ended) + 1 < len(stages)
                    else "end")
        after[name] = max(after.get(name, 0), rss)
    return {name: after[name] for name in ["start", *stages, "end"] if name in after}
print(json.dumps({"wall": wall, "peak": peak, "peak_tree": max(peaks.values(), default=0),
                  "stage_peaks": by_stage(peaks), "stage_peaks_own": by_stage(own),
                  "seconds": result.run["seconds"], "cpu": result.run["cpu_seconds"], "rows": result.run["rows"],
                  "households": result.run["totals"]["households"], "payout": result.run["totals"]["payout"]}))
"""


BLOCK_HOUSEHOLDS = 1_000_000  # larger drops are generated in blocks: the generator holds a whole drop in memory


def generate(households: int, seed: int, year: int = 2019, accidents: bool = False) -> Path:
    sys.path.insert(0, str(ROOT / "tools"))  # the generator is a dev package, not part of fangpin
    import fangpin_synth as synth

    drop = CACHE / (f"drop-{households}-{seed}" + (f"-{year}" if year != 2019 else "") + ("-acc" if accidents else ""))
    if not (drop / ".complete").exists():
        shutil.rmtree(drop, ignore_errors=True)
        start = time.perf_counter()
        if households <= BLOCK_HOUSEHOLDS:
            synth.generate_drop(drop, households, seed=seed, year=year, accidents=accidents)
        else:  # blocks of one drop (one county's numbering, ID numbers and event ids that never meet), each
            # block's files beside the others' in one folder: a department's export in several files
            count = -(-households // BLOCK_HOUSEHOLDS)
            for index in range(count):
                part = drop / f".block-{index}"
                size = min(BLOCK_HOUSEHOLDS, households - index * BLOCK_HOUSEHOLDS)
                synth.generate_drop(part, size, seed=seed * 1000 + index, year=year, accidents=accidents,
                                    block=(index, count), manifest_path=drop / f".block-{index}.manifest.json")
                for path in part.iterdir():
                    path.rename(drop / f"{path.stem}-{index + 1}{path.suffix}")
                part.rmdir()
        (drop / ".complete").write_text("")
        print(f"  generated {households:,} households in {time.perf_counter() - start:.1f} s")
    return drop


def warm(drop: Path) -> None:
    """Read the drop's files once, untimed, so that every run starts with them in the page cache. A machine
    may page out files idle for a while (the benchmark VM runs DAMON's pageout: 60 s idle, then dropped): a
    run after a pause then read part of its drop from disk (1.6 GB of a 5M drop, 15 s more hashing), one
    right after another did not, and the two were compared as if alike."""
    for path in sorted(drop.iterdir()):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


def machine_seconds() -> dict[str, float]:
    """Seconds every core of the machine has spent stolen by its host and waiting for the disk since boot
    (``/proc/stat``); {} where there is no such file."""
    try:
        fields = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0].split()
    except OSError:
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    return {"iowait": int(fields[5]) / tick, "steal": int(fields[8]) / tick if len(fields) > 8 else 0.0}


def machine_since(before: dict[str, float]) -> dict[str, float]:
    """``machine_seconds`` since ``before`` (its earlier reading)."""
    after = machine_seconds()
    return {key: after[key] - before[key] for key in after}


def run_once(python: str, drop: Path, households: int, year: int = 2019, pack: Path | None = None,
             postgres: str | None = None, partitions: int | None = None) -> dict:
    """Screen the drop once in a fresh process of ``python`` against a fresh SQLite database, or a fresh
    schema of the PostgreSQL database ``postgres`` (dropped afterwards); in ``partitions`` if given."""
    work = CACHE / f"run-{households}-{os.getpid()}"  # other benchmarks may share the cache
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    database, environment, schema = f"sqlite:///{work / 'bench.db'}", dict(os.environ), None
    if postgres is not None:
        import sqlalchemy as sa

        schema = f"bench_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        with sa.create_engine(postgres, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        database = f"{postgres}?options=-csearch_path%3D{schema}"
        environment["FANGPIN_CHAIN_KEY_FILE"] = str(work / "chain.key")
    if partitions is not None:
        environment["FANGPIN_SCREEN_PARTITIONS"] = str(partitions)
    # A freshly generated drop is still being written back to disk: timed, that writeback would be
    # charged to the screening. The files stay in the page cache, as an office's drop read twice does.
    os.sync()
    warm(drop)
    before = machine_seconds()
    try:
        output = subprocess.run(
            [python, "-c", CHILD, str(drop), database, str(work / "out"), str(year),
             str(pack.resolve()) if pack else ""],
            capture_output=True, text=True, check=False, cwd=work, env=environment,
        )
        machine = machine_since(before)  # not the clearing up
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if schema is not None:
            with sa.create_engine(postgres, isolation_level="AUTOCOMMIT").connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    if output.returncode != 0:
        print(output.stderr)
        raise SystemExit(output.returncode)
    figures: dict = json.loads(output.stdout.strip().splitlines()[-1])
    figures["machine"] = machine
    return figures


def reference_pack(year: int, pack: Path | None) -> Path | None:
    """The pack folder the reference can read (format 1: rules.yaml with its ``bases``), or None."""
    folder = pack or ROOT / "rules" / f"handan-{year}"
    rules = folder / "rules.yaml"
    return folder if rules.exists() and "\nbases:" in rules.read_text(encoding="utf-8") else None


def reference_once(drop: Path, year: int, pack: Path) -> dict:
    """The polars-only reference on the drop, in a fresh process (imports outside its timing, as fangpin's)."""
    os.sync()
    warm(drop)
    before = machine_seconds()
    output = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "screen_reference.py"), str(drop), "--year", str(year),
         "--pack", str(pack.resolve())],
        capture_output=True, text=True, check=False,
    )
    if output.returncode != 0:
        print(output.stderr)
        raise SystemExit(output.returncode)
    machine = machine_since(before)
    figures: dict = json.loads(output.stdout.strip().splitlines()[-1])
    figures["machine"] = machine
    return figures


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def against_reference(ours: list[dict], references: list[dict]) -> None:
    """fangpin's medians beside the reference's, their ratio, and whether both did the same job."""
    walls = statistics.median(r["wall"] for r in ours), statistics.median(r["wall"] for r in references)
    cpus = (statistics.median(sum(r["cpu"].values()) for r in ours),
            statistics.median(r["cpu"] for r in references))
    print(f"  fangpin screen: wall {walls[0]:.2f} s, cpu {cpus[0]:.2f} s (median of {len(ours)}: "
          + ", ".join(f"{r['wall']:.1f}" for r in ours) + ")")
    print(f"  polars-only reference: wall {walls[1]:.2f} s, cpu {cpus[1]:.2f} s (median of {len(references)}: "
          + ", ".join(f"{r['wall']:.1f}" for r in references) + ")")
    print(f"  ratio: wall {walls[0] / walls[1]:.2f}×, cpu {cpus[0] / cpus[1]:.2f}×")
    reference = references[0]
    same = (reference["households"] == ours[0]["households"] and _yuan(reference["payout_fen"]) == ours[0]["payout"])
    print(f"  same job: {'yes' if same else 'NO'} (households {ours[0]['households']:,} / "
          f"{reference['households']:,}, payout {ours[0]['payout']} / {_yuan(reference['payout_fen'])})")


def report(figures: dict) -> None:
    rows = figures["rows"]["read"]
    print(f"  wall {figures['wall']:.1f} s, {rows:,} rows read ({rows / figures['wall']:,.0f} rows/s), "
          f"peak memory {figures['peak'] / 2**30:.2f} GiB (with its worker processes "
          f"{figures.get('peak_tree', 0) / 2**30:.2f} GiB), {figures['households']:,} households decided, "
          f"payout {figures['payout']}")
    print("  stages (wall / cpu s): " + ", ".join(f"{stage} {seconds:.1f}/{figures['cpu'][stage]:.1f}"
                                             for stage, seconds in figures["seconds"].items()))
    print(f"  cpu {sum(figures['cpu'].values()):.1f} s in all (2 cores: wall can approach half of it)"
          + _lost(figures))
    if figures.get("stage_peaks"):
        print("  peak memory by stage, with workers (GiB): " + ", ".join(
            f"{stage} {rss / 2**30:.2f}" for stage, rss in figures["stage_peaks"].items()))
    if figures.get("stage_peaks_own"):
        print("  peak memory by stage, this process alone (GiB): " + ", ".join(
            f"{stage} {rss / 2**30:.2f}" for stage, rss in figures["stage_peaks_own"].items()))


def median_seconds(runs: list[dict], kind: str, stage: str | None = None) -> float:
    """The median over ``runs`` of their wall (``kind`` "seconds") or CPU ("cpu") seconds, of ``stage`` or of
    the whole run (None)."""
    if stage is None:
        return statistics.median(r["wall"] if kind == "seconds" else sum(r["cpu"].values()) for r in runs)
    return statistics.median(r[kind].get(stage, 0.0) for r in runs)


def _lost(figures: dict) -> str:
    machine = figures.get("machine") or {}
    return (f"; the machine's cores stolen {machine['steal']:.1f} s, waiting for the disk {machine['iowait']:.1f} s"
            if machine else "")


def linearity(small: int, large: int, seed: int, rounds: int, year: int = 2019, pack: Path | None = None,
              accidents: bool = False) -> list[Path]:
    """The large drop's stages beside the small drop's scaled by their rows: the small as it runs by default
    and in partitions of the large one's size, alternately with the large, ``rounds`` times (``--linear``)."""
    from fangpin.screening import partitions

    drops = {size: generate(size, seed, year, accidents) for size in (small, large)}
    size = {households: sum(path.stat().st_size for path in drop.iterdir() if path.is_file())
            for households, drop in drops.items()}
    large_parts = partitions.plan(size[large])
    matched = max(1, round(large_parts * size[small] / size[large]))
    print(f"{small:,} and {large:,} households: {partitions.plan(size[small])} and {large_parts} partitions by "
          f"default; the small one also in {matched}")
    kinds = {"default": (small, None), "matched": (small, matched), "large": (large, None)}
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind, (households, parts) in kinds.items():
            runs[kind].append(run_once(sys.executable, drops[households], households, year, pack, partitions=parts))
            figures = runs[kind][-1]
            print(f"  {kind:8} wall {figures['wall']:6.1f} s, cpu {sum(figures['cpu'].values()):6.1f} s, peak with "
                  f"workers {figures.get('peak_tree', 0) / 2**30:.2f} GiB, payout {figures['payout']}{_lost(figures)}")
    scale = statistics.median(r["rows"]["read"] for r in runs["large"]) / statistics.median(
        r["rows"]["read"] for r in runs["default"])
    print(f"  medians, wall / cpu s; the small drop's times {scale:.3f} (rows read), and the large one's ratio to it:")

    print(f"    {'stage':24} {'large':>15}   {'small × ' + format(scale, '.2f'):>15} {'ratio':>6}   "
          f"{'small in ' + str(matched) + ' × ' + format(scale, '.2f'):>20} {'ratio':>6}")
    for stage in [*dict.fromkeys(stage for r in runs["large"] for stage in r["seconds"]), None]:
        cells = []
        for kind in ("large", "default", "matched"):
            wall, cpu = median_seconds(runs[kind], "seconds", stage), median_seconds(runs[kind], "cpu", stage)
            cells.append((wall, cpu) if kind == "large" else (wall * scale, cpu * scale))
        ratios = [cells[0][0] / cell[0] if cell[0] else float("nan") for cell in cells[1:]]
        print(f"    {stage or 'whole run':24} {cells[0][0]:7.1f} / {cells[0][1]:5.1f}   {cells[1][0]:7.1f} / "
              f"{cells[1][1]:5.1f} {ratios[0]:5.2f}×   {cells[2][0]:12.1f} / {cells[2][1]:5.1f} {ratios[1]:5.2f}×")
    return list(drops.values())


def compare(
    against: Path, drop: Path, households: int, repeat: int, year: int = 2019, pack: Path | None = None
) -> None:
    """This checkout and ``against``, alternately on the same drop; medians side by side."""
    other = str(against.resolve() / ".venv" / "bin" / "python")
    if households <= WARM_UP_HOUSEHOLDS:  # not counted: byte-compiling, caches (``first`` was ours); a larger
        run_once(other, drop, households, year, pack)  # drop's run lasts minutes, beside which those are nothing
    ours: list[dict] = []
    theirs: list[dict] = []
    for _ in range(repeat):
        theirs.append(run_once(other, drop, households, year, pack))
        ours.append(run_once(sys.executable, drop, households, year, pack))
    for name, runs in (("this checkout", ours), (f"against {against}", theirs)):
        print(f"  {name}: wall " + ", ".join(f"{r['wall']:.1f}" for r in runs)
              + " s; cpu " + ", ".join(f"{sum(r['cpu'].values()):.1f}" for r in runs)
              + f" s; peak {max(r['peak'] for r in runs) / 2**30:.2f} GiB (with workers "
              f"{max(r.get('peak_tree', 0) for r in runs) / 2**30:.2f}); payout {runs[0]['payout']}")
    for kind, label in (("seconds", "wall"), ("cpu", "cpu")):
        a, b = median_seconds(ours, kind), median_seconds(theirs, kind)
        print(f"  median {label}: {a:.2f} s against {b:.2f} s: {a / b:.3f}× ({(a / b - 1) * 100:+.1f} %)")
    print("  stages, median wall / cpu s, this checkout against the other:")
    for stage in dict.fromkeys([*ours[0]["seconds"], *theirs[0]["seconds"]]):
        cells = [median_seconds(runs, kind, stage) for runs in (ours, theirs) for kind in ("seconds", "cpu")]
        print(f"    {stage:24} {cells[0]:7.1f} / {cells[1]:7.1f}   against {cells[2]:7.1f} / {cells[3]:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated drops for the next run")
    parser.add_argument("--against", type=Path, help="another fangpin checkout with its own .venv to compare with")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of fangpin and of the reference (or of each checkout with --against); medians")
    parser.add_argument("--year", type=int, default=2019, help="policy year of the drop and of the screening")
    parser.add_argument("--pack", type=Path, help="rule pack folder to screen under (default: the year's shipped pack)")
    parser.add_argument("--accidents", action="store_true", help="add the accident export (意外伤害) to the drop")
    parser.add_argument("--no-reference", action="store_true", help="leave out the polars-only reference")
    parser.add_argument("--linear", action="store_true", help="two sizes: the larger one's stages beside the "
                        "smaller one's scaled by their rows, in rounds of three runs (see above)")
    parser.add_argument("--postgres", metavar="URL", help="also screen into a fresh schema of this PostgreSQL "
                        "database (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test), beside SQLite")
    args = parser.parse_args()
    if args.linear:
        if len(args.households) != 2:
            parser.error("--linear compares two sizes: --households SMALL LARGE")
        drops = linearity(*sorted(args.households), args.seed, args.repeat, args.year, args.pack, args.accidents)
        if not args.keep:
            for drop in drops:
                shutil.rmtree(drop, ignore_errors=True)
        return
    folder = None if args.no_reference else reference_pack(args.year, args.pack)
    if folder is None and not args.no_reference:
        print("no polars-only reference: it reads format-1 packs only")
    rows_per_second: list[tuple[int, float]] = []
    for households in args.households:
        print(f"{households:,} households")
        drop = generate(households, args.seed, args.year, args.accidents)
        has_xlsx = any(path.suffix == ".xlsx" for path in drop.iterdir())
        ours: list[dict] = []
        references: list[dict] = []
        for _ in range(args.repeat if folder is not None and not has_xlsx else 1):
            ours.append(run_once(sys.executable, drop, households, args.year, args.pack))
            if folder is not None and not has_xlsx:
                references.append(reference_once(drop, args.year, folder))
        figures = sorted(ours, key=lambda r: r["wall"])[len(ours) // 2]
        report(figures)
        if references:
            against_reference(ours, references)
        if args.postgres:
            on_postgres = [run_once(sys.executable, drop, households, args.year, args.pack, args.postgres)
                           for _ in range(args.repeat if references else 1)]
            wall = statistics.median(r["wall"] for r in on_postgres)
            print(f"  on PostgreSQL: wall {wall:.2f} s (" + ", ".join(f"{r['wall']:.1f}" for r in on_postgres) + "), "
                  f"cpu {statistics.median(sum(r['cpu'].values()) for r in on_postgres):.2f} s"
                  + (f", {wall / statistics.median(r['wall'] for r in references):.2f}× the reference"
                     if references else "") + f", payout {on_postgres[0]['payout']}")
            print("  stages (wall s): " + ", ".join(f"{stage} {seconds:.1f}"
                                                    for stage, seconds in on_postgres[0]["seconds"].items()))
        if folder is not None and not references:
            print("  no polars-only reference: the drop has xlsx files (drops of up to 20,000 households)")
        if args.against is not None:
            compare(args.against, drop, households, args.repeat, args.year, args.pack)
        rows_per_second.append((households, figures["wall"]))
        if not args.keep:
            shutil.rmtree(drop, ignore_errors=True)
    if len(rows_per_second) > 1:
        base_n, base_t = rows_per_second[0]
        print("growth: " + ", ".join(f"{n:,}: {t / base_t:.2f}× time for {n / base_n:.1f}× households"
                                     for n, t in rows_per_second))


if __name__ == "__main__":
    main()
