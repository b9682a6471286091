"""The rules that span files (docs/exports.md 3.6): households, members, people and events linked into the
facts of each household, with every row that cannot be used rejected with its reason.

Input: the parsed exports (``intake``) with their source profiles (which cause each export feeds, how an
event is identified), the events and payments earlier runs of the same county and year stored, the policy
year and the pack (its causes: how each event adds to its base, which events count). Output: one row of
facts per household, the events now counted, the rejections, and the rows of exports for causes the pack
lacks (skipped as ``not_in_pack``). All column-wise (polars).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from fangpin.event_ledger import CORE_SCHEMA, conform
from fangpin.packs import Pack
from fangpin.packs.events import base_expr, counts_expr
from fangpin.screening.partitions import split

REJECTION_SCHEMA = {"file": pl.String, "row": pl.Int64, "field": pl.String, "value": pl.String, "reason": pl.String}


@dataclass(frozen=True)
class EventSource:
    """What linking needs of an export of events (its source profile, ``intake.profiles``): the pack cause
    its rows feed, the field identifying an event, the fields whose values make it what it is, and the
    values every row of the export has."""

    department: str
    cause: str | None
    event_id: str | None
    content: tuple[str, ...] = ()
    set: tuple[tuple[str, str | bool], ...] = ()


def attribute_schema(pack: Pack) -> dict[str, pl.DataType]:
    """The ledger columns of the pack's event fields that are not amounts, in the order the causes declare them."""
    schema: dict[str, pl.DataType] = {}
    for cause in pack.causes:
        for item in cause.fields:
            if item.type != "money" and item.name not in schema:
                schema[item.name] = pl.Boolean() if item.type == "bool" else pl.String()
    return schema


def ledger_schema(pack: Pack) -> dict[str, pl.DataType]:
    return {**CORE_SCHEMA, **attribute_schema(pack)}


@dataclass(frozen=True)
class Table:
    """The valid rows of one department's files, each row tagged with its file and physical row."""

    department: str
    frame: pl.DataFrame  # columns: file, row, the department's canonical fields


@dataclass
class Linked:
    facts: pl.DataFrame                 # one row per household: identity, engine facts, paid before
    counted: pl.DataFrame               # events counted after this run (ledger_schema), stored ones included
    new_events: pl.DataFrame            # events this run adds (new or corrections), ledger_schema + is_correction
    rejections: pl.DataFrame            # REJECTION_SCHEMA
    superseded: dict[str, int] = field(default_factory=dict)  # rows used then replaced by a later correction
    corrections: pl.DataFrame | None = None  # household_id, department, event_id
    skipped: pl.DataFrame | None = None  # REJECTION_SCHEMA: rows of exports for causes the pack lacks


def _empty_rejections() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTION_SCHEMA)


def _reject(frame: pl.DataFrame, mask: pl.Expr, field: str, reason: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows matching ``mask`` off as rejections of ``field`` with ``reason``."""
    flagged = frame.with_columns(mask.fill_null(False).alias("_bad"))
    rejected = flagged.filter(pl.col("_bad")).select(
        pl.col("file"), pl.col("row"), pl.lit(field).alias("field"),
        pl.col(field).cast(pl.String).fill_null("").alias("value"), pl.lit(reason).alias("reason"),
    )
    return flagged.filter(~pl.col("_bad")).drop("_bad"), rejected


def _ordered(tables: Sequence[Table], department: str, schema: dict[str, pl.DataType] | None = None) -> pl.DataFrame:
    frames = [table.frame for table in tables if table.department == department]
    if not frames:
        return pl.DataFrame(schema=schema or {"file": pl.String, "row": pl.Int64})
    return pl.concat(frames, how="diagonal_relaxed").with_row_index("_order")


def link(
    tables: Sequence[Table],
    *,
    year: int,
    county: str,
    pack: Pack,
    profiles: Sequence[EventSource],
    stored_events: pl.DataFrame,
    paid_before: pl.DataFrame,
    partitions: int = 1,
) -> Linked:
    """``partitions``: the events are linked in that many parts by event id, the households' facts built in
    that many parts by household (``screening.partitions``); the result is the same for any count."""
    rejections: list[pl.DataFrame] = []
    skipped: list[pl.DataFrame] = []
    schema = ledger_schema(pack)

    register = _ordered(tables, "register")
    if "household_id" not in register.columns:
        register = pl.DataFrame(schema={"file": pl.String, "row": pl.Int64, "household_id": pl.String,
                                        "_order": pl.UInt32})
    register, bad = _reject(register, ~pl.col("household_id").is_first_distinct(), "household_id",
                            "duplicate_household")
    rejections.append(bad)
    households = register.select("household_id")

    members = _ordered(tables, "members")
    if "household_id" in members.columns:
        members, bad = _reject(members, ~pl.col("household_id").is_in(households["household_id"].implode()),
                               "household_id", "unknown_household")
        rejections.append(bad)
        members, bad = _reject(members, ~pl.col("id_number").is_first_distinct(), "id_number", "duplicate_person")
        rejections.append(bad)
    else:
        members = pl.DataFrame(schema={"household_id": pl.String, "id_number": pl.String, "labour": pl.Boolean})

    people = pl.concat(
        [
            members.select("id_number", "household_id"),
            register.filter(pl.col("head_id").is_not_null()).select(pl.col("head_id").alias("id_number"),
                                                                     "household_id")
            if "head_id" in register.columns else pl.DataFrame(schema={"id_number": pl.String,
                                                                        "household_id": pl.String}),
        ]
    ).unique(subset="id_number", keep="first", maintain_order=True)

    fresh: list[pl.DataFrame] = []
    superseded: dict[str, int] = {}
    for profile in profiles:
        if profile.cause is None or profile.event_id is None:
            continue
        events = _ordered(tables, profile.department)
        if events.height == 0 or profile.event_id not in events.columns:
            continue
        if profile.cause not in pack.cause_ids:
            skipped.append(events.select(pl.col("file"), pl.col("row"), pl.lit(profile.event_id).alias("field"),
                                         pl.col(profile.event_id).cast(pl.String).fill_null("").alias("value"),
                                         pl.lit("not_in_pack").alias("reason")))
            continue
        stored = stored_events.filter(pl.col("department") == profile.department)
        parts = [_link_events(part, profile, pack, year, people, stored_part) for part, stored_part in zip(
            split(events, profile.event_id, partitions), split(stored, "event_id", partitions), strict=True)]
        rejections.extend(rejected for _, rejected, _ in parts)
        superseded[profile.department] = sum(replaced for _, _, replaced in parts)
        accepted = pl.concat([accepted for accepted, _, _ in parts], how="vertical_relaxed")
        if partitions > 1:  # in the order of an unpartitioned run: the ids seen once, then the repeated ones
            accepted = accepted.sort("_again", "_order")
        fresh.append(conform(accepted, {**schema, "is_correction": pl.Boolean()}))

    new_events = (pl.concat(fresh, how="vertical_relaxed") if fresh
                  else pl.DataFrame(schema={**schema, "is_correction": pl.Boolean}))
    replaced_keys = new_events.select("department", "event_id")
    kept = stored_events.join(replaced_keys, on=["department", "event_id"], how="anti")
    counted = pl.concat([conform(kept, schema), new_events.select(list(schema))], how="vertical_relaxed")
    facts = _household_facts(register, members, counted, paid_before, pack, county, year) if partitions <= 1 else (
        pl.concat([_household_facts(register_part, members_part, counted_part, paid_part, pack, county, year)
                   for register_part, members_part, counted_part, paid_part in zip(
                       *(split(frame, "household_id", partitions) for frame in
                         (register, members, counted, paid_before)), strict=True)],
                  how="vertical_relaxed").sort("household_id"))
    corrections = new_events.filter(pl.col("is_correction")).select("household_id", "department", "event_id")
    all_rejections = pl.concat([frame.select(list(REJECTION_SCHEMA)) for frame in rejections] or
                               [_empty_rejections()], how="vertical_relaxed")
    all_skipped = pl.concat([frame.select(list(REJECTION_SCHEMA)) for frame in skipped] or [_empty_rejections()],
                            how="vertical_relaxed")
    return Linked(facts, counted, new_events, all_rejections, superseded, corrections, all_skipped)


def _link_events(
    events: pl.DataFrame, profile: EventSource, pack: Pack, year: int, people: pl.DataFrame, stored: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    department = profile.department
    assert profile.event_id is not None and profile.cause is not None
    id_field = profile.event_id
    cause = pack.structure.cause(profile.cause)
    content = pl.concat_str(
        [pl.col(name).cast(pl.String).fill_null("") for name in profile.content], separator="|"
    )
    events = events.with_columns(content.alias("content"), pl.col(id_field).alias("event_id"))
    # Most ids appear once: only the few repeated ones need the (costly) per-id window over file order.
    repeated = events.select(pl.col("event_id").is_duplicated()).to_series()
    once = events.filter(~repeated).with_columns(pl.lit(None, pl.String).alias("_in_run"), pl.lit(True).alias("_last"),
                                                 pl.lit(False).alias("_again"))
    again = events.filter(repeated).sort("_order").with_columns(
        pl.col("content").shift(1).over("event_id").alias("_in_run"),
        pl.lit(False).alias("_last"),  # which of them is the last is known only once rejections are out
        pl.lit(True).alias("_again"),
    )
    events = pl.concat([once, again], how="vertical_relaxed")
    latest_stored = stored.select("event_id", pl.col("content").alias("_stored"))
    if latest_stored.is_empty():
        events = events.with_columns(pl.col("_in_run").alias("_previous"), pl.lit(None, pl.String).alias("_stored"))
    else:
        events = events.join(latest_stored, on="event_id", how="left").with_columns(
            pl.coalesce(pl.col("_in_run"), pl.col("_stored")).alias("_previous")
        )
    # The first defect in column order: the id (a duplicate), the person (unknown), the date (another year).
    events = events.join(people, on="id_number", how="left").with_columns(
        pl.when(pl.col("_previous") == pl.col("content")).then(pl.lit("duplicate_event"))
        .when(pl.col("household_id").is_null()).then(pl.lit("unknown_person"))
        .when(pl.col("date").dt.year() != year).then(pl.lit("outside_policy_year"))
        .alias("_reason")
    )
    field_of = {"duplicate_event": id_field, "unknown_person": "id_number", "outside_policy_year": "date"}
    bad = events.filter(pl.col("_reason").is_not_null())
    rejected = bad.select(
        pl.col("file"), pl.col("row"),
        pl.col("_reason").replace_strict(field_of, return_dtype=pl.String).alias("field"),
        pl.when(pl.col("_reason") == "duplicate_event").then(pl.col(id_field))
        .when(pl.col("_reason") == "unknown_person").then(pl.col("id_number"))
        .otherwise(pl.col("date").cast(pl.String)).fill_null("").alias("value"),
        pl.col("_reason").alias("reason"),
    )
    events = events.filter(pl.col("_reason").is_null())
    # Of several used rows with one id, the last is the event; the earlier ones were corrected by it.
    # The per-id window only over the rows of repeated ids (few): over every row it is the costliest step here.
    again = events.filter(~pl.col("_last"))
    last_again = again.filter(pl.col("_order") == pl.col("_order").max().over("event_id"))
    replaced = again.height - last_again.height
    current = pl.concat([events.filter(pl.col("_last")), last_again], how="vertical_relaxed")
    current = current.with_columns([pl.lit(value).alias(name) for name, value in profile.set])
    own = {field.name for field in cause.fields if field.type != "money"}
    attributes = [(name, dtype) for name, dtype in attribute_schema(pack).items() if name in own]
    accepted = current.select(
        pl.lit(department).alias("department"),
        pl.col("event_id"),
        pl.col("content"),
        pl.col("household_id"),
        pl.col("id_number").alias("person_id"),
        pl.col("date"),
        pl.lit(cause.id).alias("cause"),
        base_expr(cause).alias("amount_fen"),
        *((pl.col(name) if name in current.columns else pl.lit(None)).cast(dtype).alias(name)
          for name, dtype in attributes),
        pl.col("_stored").is_not_null().alias("is_correction"),  # replaces an event counted by an earlier run
        pl.col("_again"), pl.col("_order"),  # the order of an unpartitioned run (``link``)
    )
    return accepted, rejected, replaced


def _household_facts(
    register: pl.DataFrame,
    members: pl.DataFrame,
    counted: pl.DataFrame,
    paid_before: pl.DataFrame,
    pack: Pack,
    county: str,
    year: int,
) -> pl.DataFrame:
    causes = pack.cause_ids
    contribution: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for cause in pack.causes:  # what counts is the pack's: an event of a cause it lacks adds nothing
        counts = counts_expr(cause, pack)
        contribution = (pl.when((pl.col("cause") == cause.id) & counts).then(pl.col("amount_fen"))
                        .otherwise(contribution))
    sums = (
        counted.with_columns(contribution.alias("_counts"))
        .group_by("household_id")
        .agg([pl.col("_counts").filter(pl.col("cause") == cause).sum().alias(f"{cause}_base") for cause in causes])
    )
    labour = members.group_by("household_id").agg(pl.col("labour").fill_null(False).any().alias("_labour"))
    if "income" not in register.columns:
        register = register.with_columns(pl.lit(None, pl.Int64).alias("income"))
    if "income_per_capita" not in register.columns:
        register = register.with_columns(pl.lit(None, pl.Int64).alias("income_per_capita"))
    per_capita = (
        pl.when(pl.col("income").is_not_null())
        .then((pl.col("income") * 2 + pl.col("members")) // (pl.col("members") * 2))
        .otherwise(pl.col("income_per_capita"))
    )
    columns = register.columns
    facts = (
        register.join(sums, on="household_id", how="left")
        .join(labour, on="household_id", how="left")
        .join(paid_before, on="household_id", how="left")
        .select(
            pl.col("household_id"),
            pl.lit(county).alias("county"),
            pl.lit(year).alias("year"),
            *(pl.col(name) if name in columns else pl.lit(None, pl.String).alias(name)
              for name in ("township", "village", "head_name", "head_id")),
            pl.col("status"),
            *(pl.col(name).alias(f"{name}_given") if name in columns else pl.lit(None, pl.Int64).alias(f"{name}_given")
              for name in ("income", "income_per_capita")),
            per_capita.cast(pl.Int64).alias("per_capita_income"),
            pl.col("members").cast(pl.Int64),
            pl.col("_labour").fill_null(False).cast(pl.Int64).alias("labour_capacity"),
            pl.col("housing_secure").cast(pl.Int64),
            *(pl.col(f"{cause}_base").fill_null(0).cast(pl.Int64) for cause in causes),
            *(pl.col(f"{cause}_paid_before").fill_null(0).cast(pl.Int64) for cause in causes),
            pl.col("_labour").is_null().alias("no_members"),
        )
        .sort("household_id")
    )
    return facts
