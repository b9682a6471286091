"""Times parse_export on a generated medical export (default: 1,000,000 rows, GBK, title and totals lines,
amounts with thousands separators, ``元`` suffixes and ``￥`` prefixes, valid ID numbers).

    python bench/intake_bench.py [--rows N] [--encoding gbk|utf-8] [--repeat K]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from fangpin.intake import load_profiles, parse_export
from fangpin.intake.values import ID_CHECK, ID_WEIGHTS

HEADER = "结算单号,参保人身份证号,结算日期,医疗总费用,基本医保支付,大病保险支付,医疗救助支付,个人负担,备注"


def _random(seed: int, low: int, high: int) -> pl.Expr:
    return (pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed) % (high - low) + low).cast(pl.Int64)


def _yuan(fen: pl.Expr) -> pl.Expr:
    """Fen as yuan text with thousands separators (below a billion yuan)."""
    yuan, cents = fen // 100, (fen % 100).cast(pl.String).str.zfill(2)
    millions, thousands, units = yuan // 1_000_000, (yuan // 1000) % 1000, yuan % 1000
    grouped = (
        pl.when(millions > 0).then(pl.format("{},{},{}", millions, thousands.cast(pl.String).str.zfill(3),
                                              units.cast(pl.String).str.zfill(3)))
        .when(thousands > 0).then(pl.format("{},{}", thousands, units.cast(pl.String).str.zfill(3)))
        .otherwise(units.cast(pl.String))
    )
    return pl.format("{}.{}", grouped, cents)


def _id_numbers() -> pl.Expr:
    birth = pl.date(_random(1, 1940, 2015), _random(2, 1, 13), _random(3, 1, 29)).dt.strftime("%Y%m%d")
    body = pl.concat_str(pl.lit("130434"), birth, _random(4, 0, 1000).cast(pl.String).str.zfill(3))
    total = pl.sum_horizontal([body.str.slice(place, 1).cast(pl.Int64) * weight
                               for place, weight in enumerate(ID_WEIGHTS)])
    return body + pl.lit(ID_CHECK).str.slice(total % 11, 1)


def generate(path: Path, rows: int, encoding: str) -> None:
    total = _random(5, 10_000, 90_000_000)
    frame = pl.DataFrame({"n": range(rows)}).select(
        pl.format("JS{}", pl.col("n").cast(pl.String).str.zfill(10)).alias("settlement_id"),
        _id_numbers().alias("id_number"),
        pl.date(2019, _random(6, 1, 13), _random(7, 1, 29)).dt.strftime("%Y-%m-%d").alias("date"),
        total.alias("total"),
    ).with_columns(
        (pl.col("total") // 2).alias("basic"), (pl.col("total") // 10).alias("critical"),
        (pl.col("total") // 20).alias("assistance"),
    ).select(
        "settlement_id", "id_number", "date", _yuan(pl.col("total")).alias("total"),
        (_yuan(pl.col("basic")) + "元").alias("basic"), ("￥" + _yuan(pl.col("critical"))).alias("critical"),
        _yuan(pl.col("assistance")).alias("assistance"),
        _yuan(pl.col("total") - pl.col("basic") - pl.col("critical") - pl.col("assistance")).alias("personal"),
        pl.lit("住院").alias("note"),
    )
    body = frame.write_csv(include_header=False, line_terminator="\r\n")
    text = f"某某县医保结算数据导出\r\n{HEADER}\r\n{body}合计,,,,,,,,\r\n"
    path.write_bytes(text.encode(encoding))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--encoding", default="gbk")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    profiles = load_profiles()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "medical.csv"
        generate(path, options.rows, options.encoding)
        size = path.stat().st_size / 1e6
        print(f"{options.rows:,} rows, {options.encoding}, {size:.0f} MB, {pl.thread_pool_size()} polars threads")
        for _ in range(options.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            parsed = parse_export(path, profiles)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert parsed.used == options.rows and parsed.rows_read == options.rows + 2, parsed.outcomes.head()
            print(f"parse_export: {wall:.2f} s wall, {cpu:.2f} s CPU, {parsed.rows_read / wall:,.0f} rows/s")


if __name__ == "__main__":
    main()
