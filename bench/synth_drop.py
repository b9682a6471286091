"""Generate a synthetic county data drop (tools/fangpin_synth) and print the time and rows per file.

    python bench/synth_drop.py OUT --households N [--seed S] [--year 2019] [--county 130434]
                               [--bad-share 0.02] [--formats gbk|utf8|utf8-bom|xlsx] [--plain] [--accidents]

The drop goes to OUT, its manifest beside it (OUT.manifest.json).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--households", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--year", type=int, default=2019)
    parser.add_argument("--county", default="130434")
    parser.add_argument("--bad-share", type=float, default=0.02)
    parser.add_argument("--formats", default=None,
                        help="one format for every file: gbk, utf8, utf8-bom or xlsx (default: mixed by seed)")
    parser.add_argument("--plain", action="store_true", help="canonical headers, plain values, no title/blank/total")
    parser.add_argument("--accidents", action="store_true", help="add the accident export (意外伤害)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tools"))  # the generator is a dev package, not part of fangpin
    import fangpin_synth as synth

    m = synth.generate_drop(args.out, args.households, seed=args.seed, year=args.year, county=args.county,
                            bad_share=args.bad_share, formats=args.formats, messy=not args.plain,
                            accidents=args.accidents)
    width = max(len(f.name) for f in m.files)
    print(f"{args.households:,} households, seed {args.seed}: {m.seconds:.1f} s")
    print(f"{'file':<{width}}  {'department':<18} {'format':<10} {'rows':>10} {'used':>10} {'rejected':>9} "
          f"{'skipped':>7} {'MB':>8}")
    for f in m.files:
        size = (args.out / f.name).stat().st_size / 1e6
        fmt = f.format if f.format == "xlsx" else f.encoding
        print(f"{f.name:<{width}}  {f.department:<18} {fmt:<10} {f.rows_read:>10,} {f.rows_used:>10,} "
              f"{f.rows_rejected:>9,} {f.rows_skipped:>7,} {size:>8.1f}")
    t = m.totals
    print(f"{'total':<{width}}  {'':<18} {'':<10} {t['rows_read']:>10,} {t['rows_used']:>10,} "
          f"{t['rows_rejected']:>9,} {t['rows_skipped']:>7,}")
    print("rejected:", ", ".join(f"{k} {v:,}" for k, v in t["rejected"].items()))
    s = m.expected["summary"]
    print("expected:", ", ".join(f"{k} {v:,}" for k, v in s["outcomes"].items()), f"payout {s['payout_total']}")


if __name__ == "__main__":
    main()
