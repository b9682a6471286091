"""A polars-only screening of a drop: the limit `fangpin screen` is measured against (bench/screen.py).

    python bench/screen_reference.py DROP [--year 2019] [--pack rules/handan-2019]

It does the work a screening cannot avoid, and nothing else: read every CSV (GB18030 decoded in Python, as
any reader of these exports must), find the header row, map the headers through the source profiles
(src/fangpin/sources/*.yaml, data), read every value with plain polars expressions (ID check digits,
amounts to integer fen half-up, the five date forms, codes), drop the rows fangpin rejects or skips, link
members and events to households (duplicates, corrections, unknown people, other years), and decide each
household in integer fen with the numbers read from the pack's parameters.yaml and rules.yaml (groups,
terminal rules, tiered benefits, caps, the fee). No storage, no audit chain, no result files, no reasons
per rejected row, no engine: that is what fangpin adds, and what the ratio measures.

It prints one JSON line: wall and CPU seconds, households decided, outcomes and the payout in fen, so the
caller can check that the reference did the same job (the same payout as fangpin's run on an empty
database). CSV drops only (the synthetic generator writes no xlsx above 20,000 households).

Length: over 320 lines because an honest reference reads every value form and applies every cross-file
rule fangpin applies; each is a few lines of polars.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import os
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "src" / "fangpin" / "sources"
FULLWIDTH = [chr(code) for code in range(0xFF01, 0xFF5F)]
HALFWIDTH = [chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DATE = r"^([0-9]{4})(?:[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?|([0-9]{2})([0-9]{2}))$"
DEFAULT_BLANK = {"text": "null", "id_number": "reject", "amount": "zero", "date": "reject", "int": "reject",
                 "code": "reject"}


# --- reading -----------------------------------------------------------------------------------------

def load_sources() -> dict[str, dict[str, Any]]:
    return {spec["department"]: spec for spec in
            (yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(SOURCES.glob("*.yaml")))}


def _cells(line: bytes) -> list[str]:
    return [cell.strip().strip('"').strip() for cell in line.decode("utf-8", "replace").split(",")]


def _identify(raw: bytes, sources: dict[str, dict[str, Any]]) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The header line (0-based), its department's profile, and header cell -> field."""
    for index, line in enumerate(raw.split(b"\n", 12)[:12]):
        cells = set(_cells(line))
        best: tuple[int, dict[str, Any], dict[str, str]] | None = None
        for spec in sources.values():
            found = {header: field["name"] for field in spec["fields"] for header in field["headers"]
                     if header in cells}
            names = set(found.values())
            if any(set(group) <= names for group in spec["identify"]) and (best is None or len(found) > best[0]):
                best = (len(found), spec, found)
        if best is not None:
            return index, best[1], best[2]
    raise ValueError("no department's header row")


def read_export(path: Path, sources: dict[str, dict[str, Any]]) -> tuple[str, pl.DataFrame]:
    """One CSV's valid rows, typed, in file order (``_order``), with the profile's derived columns."""
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    else:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode("gb18030").encode("utf-8")
    header, spec, names = _identify(raw, sources)
    frame = pl.read_csv(io.BytesIO(raw), skip_rows=header, has_header=True, infer_schema=False,
                        truncate_ragged_lines=True)
    first = pl.col(frame.columns[0]).str.strip_chars()  # layout rows: a total row, a blank row
    layout = (first.str.starts_with("合计") | first.str.starts_with("总计")
              | pl.all_horizontal(pl.all().fill_null("").str.strip_chars() == ""))
    frame = frame.filter(~layout.fill_null(False)).with_row_index("_order")
    frame = frame.rename({column: names[column.strip()] for column in frame.columns if column.strip() in names})
    frame = frame.select("_order", *(f["name"] for f in spec["fields"] if f["name"] in frame.columns))
    present = [f for f in spec["fields"] if f["name"] in frame.columns]
    wide = frame.select(  # the columns with a full-width form somewhere (a byte search)
        (pl.col(f["name"]).cast(pl.Binary).bin.contains(b"\xef\xbc")
         | pl.col(f["name"]).cast(pl.Binary).bin.contains(b"\xef\xbd")).any() for f in present).row(0)
    cells = frame.with_columns(
        (pl.col(f["name"]).str.replace_many(FULLWIDTH, HALFWIDTH) if f["kind"] != "text" and w else pl.col(f["name"]))
        .str.strip_chars(" \t\r\n\u3000\u00a0" + ("￥¥元" if f["kind"] == "amount" else "")).alias(f["name"])
        for f, w in zip(present, wide, strict=True)
    )
    cells = cells.with_columns(  # an ID number's 17-digit body, once (polars does not share sub-expressions)
        pl.when(pl.col(f["name"]).str.contains(r"^[0-9]{17}[0-9Xx]$")).then(pl.col(f["name"]).str.to_uppercase())
        .alias(f"_id_{f['name']}") for f in present if f["kind"] == "id_number")
    cells = cells.with_columns(pl.col(f"_id_{f['name']}").str.slice(0, 17).cast(pl.Int64).alias(f"_body_{f['name']}")
                               for f in present if f["kind"] == "id_number")
    cells = cells.with_columns(  # an amount's digits, once
        pl.when(pl.col(f["name"]).str.contains(r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?$|^\.[0-9]+$"))
        .then(pl.col(f["name"]).str.replace_all(",", "", literal=True)).alias(f"_num_{f['name']}")
        for f in present if f["kind"] == "amount")
    blank = {f["name"]: pl.col(f["name"]).fill_null("") == "" for f in present}
    typed = cells.with_columns([_value(f).alias(f["name"]) for f in present]
                               + [blank[f["name"]].alias(f"_blank_{f['name']}") for f in present])
    zero = [f["name"] for f in present if (f.get("blank") or DEFAULT_BLANK[f["kind"]]) == "zero"]
    typed = typed.with_columns(pl.when(pl.col(f"_blank_{name}")).then(0).otherwise(pl.col(name)).alias(name)
                               for name in zero)
    bad: list[pl.Expr] = []
    for f in present:
        rule = f.get("blank") or DEFAULT_BLANK[f["kind"]]
        name, is_blank = f["name"], pl.col(f"_blank_{f['name']}")
        bad.append(~is_blank & pl.col(name).is_null())
        if rule == "reject":
            bad.append(is_blank)
        if "min" in f:
            bad.append((pl.col(name) < f["min"]).fill_null(False))
    for group in spec.get("one_of", []):
        given = [name for name in group if name in frame.columns]
        if given:
            bad.append(pl.all_horizontal([pl.col(f"_blank_{name}") for name in given]))
    rules = spec.get("rules", [])
    if "burden" in rules:
        typed = typed.with_columns((pl.col("total") - pl.col("basic") - pl.col("critical")
                                    - pl.col("assistance")).alias("burden"))
        bad.append((pl.col("burden") < 0).fill_null(False))
        if "personal" in typed.columns:
            bad.append((pl.col("personal") - pl.col("burden")).abs().gt(1).fill_null(False))
    if "own_loss" in rules:
        typed = typed.with_columns((pl.col("loss") - pl.col("compensation")).clip(lower_bound=0).alias("own_loss"))
    valid = typed.filter(~pl.any_horizontal(bad)).select(pl.exclude("^_(blank|id|body|num)_.*$"))
    valid = valid.with_columns(pl.lit(value).alias(name) for name, value in (spec.get("set") or {}).items())
    return spec["department"], valid


def _value(field: dict[str, Any]) -> pl.Expr:
    cell, kind = pl.col(field["name"]), field["kind"]
    if kind == "text":
        return pl.when(cell != "").then(cell)
    if kind == "int":
        whole = cell.str.extract(r"^([0-9]+)", 1)
        return pl.when(cell.str.contains(r"^[0-9]{1,15}(?:\.0*)?$")).then(whole).cast(pl.Int64)
    if kind == "code":
        values = field["values"]
        dtype = pl.Boolean if all(isinstance(v, bool) for v in values.values()) else pl.String
        return cell.replace_strict(list(values), list(values.values()), default=None, return_dtype=dtype)
    if kind == "amount":
        digits = pl.col(f"_num_{field['name']}")
        whole = digits.str.extract(r"^([0-9]*)", 1).str.replace(r"^$", "0").cast(pl.Int64)
        places = digits.str.extract(r"\.([0-9]*)$", 1).fill_null("") + "000"
        fen = whole * 100 + places.str.slice(0, 2).cast(pl.Int64)
        return fen + (places.str.slice(2, 1).cast(pl.Int64) >= 5).cast(pl.Int64)
    if kind == "date":
        parts = cell.str.extract_groups(DATE)
        month = pl.coalesce(parts.struct.field("2"), parts.struct.field("4"))
        day = pl.coalesce(parts.struct.field("3"), parts.struct.field("5"))
        iso = pl.concat_str(parts.struct.field("1"), month.str.zfill(2), day.str.zfill(2), separator="-")
        return iso.str.to_date("%Y-%m-%d", strict=False)
    if kind == "id_number":
        valid, body = pl.col(f"_id_{field['name']}"), pl.col(f"_body_{field['name']}")
        total = pl.sum_horizontal([(body // 10 ** (16 - i)) % 10 * w for i, w in enumerate(ID_WEIGHTS)])
        last = valid.str.slice(17, 1)
        given = pl.when(last == "X").then(10).otherwise(last.cast(pl.Int64, strict=False))
        return pl.when(given == (12 - total % 11) % 11).then(valid)
    raise ValueError(kind)


# --- linking ------------------------------------------------------------------------------------------

def link(exports: dict[str, pl.DataFrame], sources: dict[str, dict[str, Any]], year: int) -> tuple[
        pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Households, their members' labour, and the events that count (household_id, cause, base fields)."""
    register = exports["register"].filter(pl.col("household_id").is_first_distinct())
    members = exports["members"].filter(pl.col("household_id").is_in(register["household_id"].implode()))
    members = members.filter(pl.col("id_number").is_first_distinct())
    people = pl.concat([
        members.select("id_number", "household_id"),
        register.filter(pl.col("head_id").is_not_null()).select(pl.col("head_id").alias("id_number"),
                                                                "household_id"),
    ]).unique(subset="id_number", keep="first", maintain_order=True)
    events = []
    for department, frame in exports.items():
        spec = sources[department]
        if spec.get("cause") is None:
            continue
        content = pl.concat_str([pl.col(name).cast(pl.String).fill_null("") for name in spec["content"]],
                                separator="|")
        frame = frame.sort("_order").with_columns(pl.col(spec["event_id"]).alias("event_id"), content.alias("_c"))
        frame = frame.with_columns(pl.col("_c").shift(1).over("event_id").alias("_previous"))
        frame = frame.join(people, on="id_number", how="left")
        frame = frame.filter((pl.col("_previous") != pl.col("_c")).fill_null(True)
                             & pl.col("household_id").is_not_null() & (pl.col("date").dt.year() == year))
        frame = frame.filter(pl.col("_order") == pl.col("_order").max().over("event_id"))  # the last correction
        events.append(frame.with_columns(pl.lit(spec["cause"]).alias("cause"), pl.lit(department).alias("department")))
    labour = members.group_by("household_id").agg(pl.col("labour").any().alias("labour_capacity"))
    return register, labour, pl.concat(events, how="diagonal_relaxed")


# --- deciding -----------------------------------------------------------------------------------------

class Pack:
    """The numbers of a format-1 pack, read from its files."""

    def __init__(self, folder: Path) -> None:
        self.parameters = yaml.safe_load((folder / "parameters.yaml").read_text(encoding="utf-8"))
        self.rules = yaml.safe_load((folder / "rules.yaml").read_text(encoding="utf-8"))

    def value(self, reference: Any) -> Any:
        if not (isinstance(reference, str) and reference.startswith("$")):
            return reference
        parameter = self.parameters[reference[1:]]
        if parameter["type"] == "product":
            product = Decimal(1)
            for name in parameter["of"]:
                product *= Decimal(str(self.value(f"${name}")))
            return product
        if parameter["type"] == "schedule":
            return parameter["tiers"]
        return parameter["value"]

    def fen(self, reference: Any) -> int:
        return int((Decimal(str(self.value(reference))) * 100).quantize(Decimal(1), ROUND_HALF_UP))

    def condition(self, when: dict[str, Any]) -> pl.Expr:
        parts = []
        for name, test in when.items():
            if not isinstance(test, dict):
                parts.append(pl.col(name) == pl.lit(test))
                continue
            for op, bound in test.items():
                limit = self.fen(bound) if name == "per_capita_income" else self.value(bound)
                parts.append({"lt": pl.col(name) < limit, "lte": pl.col(name) <= limit, "gt": pl.col(name) > limit,
                              "gte": pl.col(name) >= limit}[op])
        return pl.all_horizontal(parts)

    def owed(self, base: pl.Expr, benefit: dict[str, Any]) -> pl.Expr:
        """The fangpin arithmetic of a tiered benefit: slices times rates at a common scale, capped, half-up."""
        tiers = self.value(benefit["tiers"])
        excess = base - self.fen(benefit["deductible"])
        scale = 10 ** max(-Decimal(str(tier["rate"])).as_tuple().exponent for tier in tiers)  # type: ignore[operator]
        total, lower = pl.lit(0, pl.Int64), 0
        for tier in tiers:
            top = excess if "up_to" not in tier else pl.min_horizontal(excess, pl.lit(self.fen(tier["up_to"])))
            total = total + (top - lower).clip(lower_bound=0) * int(Decimal(str(tier["rate"])) * scale)
            if "up_to" not in tier:
                break
            lower = self.fen(tier["up_to"])
        return (pl.min_horizontal(total, pl.lit(self.fen(benefit["cap"]) * scale)) + scale // 2) // scale


def decide(register: pl.DataFrame, labour: pl.DataFrame, events: pl.DataFrame, pack: Pack) -> pl.DataFrame:
    bases = pack.rules["bases"]
    counts = {
        "illness": pl.lit(True),
        "schooling": pl.col("full_time").fill_null(False)
        & pl.col("stage").is_in(pack.value(bases["schooling_stages"])),
        "disaster": pl.col("kind").is_in(pack.value(bases["disaster_kinds"])),
    }
    amount = {"illness": pl.col("burden"), "schooling": pl.col("tuition") + pl.col("accommodation")
              + pl.col("textbooks"), "disaster": pl.col("own_loss")}
    causes = list(counts)
    sums = events.group_by("household_id").agg(
        (amount[cause].filter((pl.col("cause") == cause) & counts[cause].fill_null(False)).sum()).alias(cause)
        for cause in causes)
    frame = (register.join(sums, on="household_id", how="left").join(labour, on="household_id", how="left")
             .with_columns(*(pl.col(cause).fill_null(0) for cause in causes),
                           pl.col("labour_capacity").fill_null(False)))
    frame = frame.with_columns(pl.lit(None, pl.Int64).alias(name) for name in ("income", "income_per_capita")
                               if name not in frame.columns)
    frame = frame.with_columns(
        pl.when(pl.col("income").is_not_null())
        .then((pl.col("income") * 2 + pl.col("members")) // (pl.col("members") * 2))
        .otherwise(pl.col("income_per_capita")).alias("per_capita_income"))
    group: pl.Expr = pl.lit(None, pl.String)
    for item in reversed(pack.rules["groups"]):
        group = pl.when(pack.condition(item["when"])).then(pl.lit(item["id"])).otherwise(group)
    frame = frame.with_columns(group.alias("group"))
    frame = frame.with_columns(pl.col("group").is_not_null().alias("covered"))
    terminal: pl.Expr = pl.lit(None, pl.String)
    for rule in reversed(pack.rules["rules"]):
        if rule["then"].get("outcome"):
            terminal = pl.when(pack.condition(rule["when"]).fill_null(False)).then(
                pl.lit(rule["then"]["outcome"])).otherwise(terminal)
    frame = frame.with_columns(terminal.alias("terminal"))
    paid = []
    for cause in causes:
        owed: pl.Expr = pl.lit(0, pl.Int64)
        for benefit in pack.rules["benefits"]:
            if benefit["cause"] == cause:
                owed = (pl.when(pl.col("group") == benefit["group"]).then(pack.owed(pl.col(cause), benefit))
                        .otherwise(owed))
        paid.append(pl.when(pl.col("terminal").is_null()).then(owed).otherwise(0).alias(f"{cause}_paid"))
    frame = frame.with_columns(paid).with_columns(pl.sum_horizontal(f"{c}_paid" for c in causes).alias("payout"))
    rate = Decimal(str(pack.value(pack.rules["fee"]["rate"])))
    scale = 10 ** -rate.as_tuple().exponent  # type: ignore[operator]
    return frame.with_columns(((pl.col("payout") * int(rate * scale) + scale // 2) // scale).alias("fee"))


def screen(drop: Path, year: int, pack_dir: Path) -> dict[str, Any]:
    sources = load_sources()
    files = sorted(p for p in drop.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xlsx"))
    if any(p.suffix.lower() == ".xlsx" for p in files):
        raise SystemExit("the reference reads CSV drops only (the generator writes xlsx up to 20,000 households)")
    exports: dict[str, pl.DataFrame] = {}
    for number, path in enumerate(files):
        department, frame = read_export(path, sources)
        if sources[department].get("cause") in (None, "illness", "schooling", "disaster"):
            # an export of a cause the pack lacks is skipped, as fangpin skips it; a department's files
            # (a larger drop comes in several) one after the other, in the drop's order as fangpin links them
            frame = frame.with_columns((pl.lit(number << 40, pl.UInt64) + pl.col("_order").cast(pl.UInt64))
                                       .alias("_order"))
            exports[department] = (pl.concat([exports[department], frame], how="diagonal_relaxed")
                                   if department in exports else frame)
    register, labour, events = link(exports, sources, year)
    decided = decide(register, labour, events, Pack(pack_dir))
    outcomes = (decided.select(pl.coalesce("terminal", pl.when(pl.col("payout") > 0).then(pl.lit("pay")))
                               .alias("outcome")).group_by("outcome").len())
    return {"households": decided.height, "payout_fen": int(decided["payout"].sum()),
            "fee_fen": int(decided["fee"].sum()),
            "terminal": {str(k): v for k, v in outcomes.iter_rows() if k is not None}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drop", type=Path)
    parser.add_argument("--year", type=int, default=2019)
    parser.add_argument("--pack", type=Path, default=None)
    args = parser.parse_args()
    pack = args.pack or ROOT / "rules" / f"handan-{args.year}"
    if not (pack / "rules.yaml").exists():
        sys.exit(f"{pack}: the reference reads format-1 packs (parameters.yaml and rules.yaml) only")
    start, cpu = time.perf_counter(), os.times()
    result = screen(args.drop, args.year, pack)
    now = os.times()
    result["wall"] = time.perf_counter() - start
    result["cpu"] = (now.user + now.system) - (cpu.user + cpu.system)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
