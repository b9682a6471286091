"""The rules that span files (docs/exports.md 3.6): households, members, people and events linked into the
facts of each household, with every row that cannot be used rejected with its reason.

Input: the valid rows of the exports as they are read (``Reading``, spilled by partition), their source
profiles (which cause each export feeds, how an event is identified), the events and payments earlier runs
of the same county and year stored, the policy year and the pack (its causes: how each event adds to its
base, which events count). Output (``Linked``): one row of facts per household and the events counted and
added, as spills by partition, the rejections, and the rows of exports for causes the pack lacks (skipped
as ``not_in_pack``). All column-wise (polars), one partition at a time (``partitions``).

Length: over 300 lines because linking is one pipeline of passes over the partitions (households, people,
events, households again) whose every step must reject exactly as an unpartitioned run would; the reading
into spills beside it is what those passes take.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fangpin.event_ledger import CORE_SCHEMA, conform
from fangpin.frames import detached
from fangpin.packs import Pack
from fangpin.packs.events import base_expr, counts_expr
from fangpin.screening.spill import Spill

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


@dataclass
class RegisterSample:
    """What the check of the county (``services.drop_checks.check_county``) needs of a register file: its valid
    rows' count, whether any household's number or head's ID number starts with the county code, and its
    first rows' household_id and head_id (for naming the code they do start with)."""

    file: str
    height: int = 0
    carried: bool = False
    head: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"household_id": pl.String}))


SAMPLE_ROWS = 10_000
MEMBER_COLUMNS = ("household_id", "id_number", "labour")  # what linking reads of a member (with ``_order``)


def located(rows: pl.DataFrame, files: Sequence[str]) -> pl.DataFrame:
    """``rows`` with the ``file`` and ``row`` their ``_order`` holds (``Reading``) in its place."""
    names = pl.Series(list(files), dtype=pl.String)
    return rows.with_columns(
        pl.lit(names).gather(pl.col("_order") // (1 << 32)).alias("file"),
        (pl.col("_order") % (1 << 32)).alias("row"),
    ).drop("_order")


class Reading:
    """The drop's valid rows as the parser hands them on (``intake.parallel.parse_all``'s sink), spilled by
    partition (``spill.Spill``) instead of held: the register and the members by household, each export of
    events linking counts by ID number (the key its linking needs first, the people), the rows of exports for
    causes the pack lacks as their ``not_in_pack`` outcome (small), the exports linking does not read not at all.

    Each row carries ``_order``, its place in the drop: the file's place in the drop's order (``files``)
    times 2**32 plus its row, so that sorting by ``_order`` gives the order of the files' rows one after the
    other, whatever order the files were read in. Its file and row are not spilled: ``_order`` holds both
    (``located``), and the file's name repeated on every row was a seventh of every spill's bytes. Of the
    members only what linking reads is kept (``MEMBER_COLUMNS``)."""

    def __init__(self, root: Path, count: int, files: Sequence[str], pack: Pack,
                 profiles: Sequence[EventSource], county: str) -> None:
        self.root, self.count, self.county = root, count, county
        self.registers: dict[str, RegisterSample] = {}  # by file, in the order the files were read
        self._files = {name: index for index, name in enumerate(files)}
        self.names = list(files)
        self.files = len(files)
        self.register = Spill(root, "register", count)
        self.members = Spill(root, "members", count)
        self.events: dict[str, Spill] = {}
        self.skipped: list[pl.DataFrame] = []
        self._sources = {profile.department: profile for profile in profiles
                         if profile.cause is not None and profile.event_id is not None}
        self._pack_causes = set(pack.cause_ids)

    def add(self, file: str, department: str, rows: pl.DataFrame) -> None:
        """One chunk of a file's valid rows, in the file's order (``RowSink``)."""
        order = (pl.col("row").cast(pl.Int64) + (self._files[file] << 32)).alias("_order")
        if department == "register":
            self._sample(file, rows)
            self.register.add_split(rows.with_columns(order).drop("row", "file", strict=False), "household_id")
            return
        if department == "members":
            self.members.add_split(rows.select(order, *(name for name in MEMBER_COLUMNS if name in rows.columns)),
                                   "household_id")
            return
        profile = self._sources.get(department)
        if profile is None or profile.event_id is None or profile.event_id not in rows.columns:
            return  # linking does not read this export: its rows are used as they are (as ever)
        if profile.cause not in self._pack_causes:
            self.skipped.append(detached(rows.select(
                pl.lit(file).alias("file"), pl.col("row").cast(pl.Int64), pl.lit(profile.event_id).alias("field"),
                pl.col(profile.event_id).cast(pl.String).fill_null("").alias("value"),
                pl.lit("not_in_pack").alias("reason"))))
            return
        if department not in self.events:
            self.events[department] = Spill(self.root, f"events-{department}", self.count)
        self.events[department].add_split(rows.with_columns(order).drop("row", "file", strict=False), "id_number")

    def _sample(self, file: str, rows: pl.DataFrame) -> None:
        sample = self.registers.setdefault(file, RegisterSample(file))
        columns = [name for name in ("household_id", "head_id") if name in rows.columns]
        sample.height += rows.height
        if columns and not sample.carried:
            sample.carried = bool(rows.select(pl.any_horizontal(
                pl.col(name).cast(pl.String).str.starts_with(self.county).fill_null(False) for name in columns
            ).any()).item())
        if sample.head.height < SAMPLE_ROWS:
            head = rows.select(columns).head(SAMPLE_ROWS - sample.head.height)
            sample.head = detached(head if sample.head.height == 0 else pl.concat([sample.head, head]))


@dataclass
class Linked:
    """What linking gives: the facts and the events as spills of ``count`` partitions, the rest small."""

    facts: Spill                        # by ranges of household_id (``ranged``): one row per household
    counted: Spill | None               # by household_id: events counted after this run (ledger_schema), if
    #                                     asked for (``link``'s keep_counted)
    new_events: Spill                   # events this run adds (``AddedEvents``): ledger_schema + ORDER_KEY by
    #                                     ranges of ORDER_KEY, or + is_correction + ORDER_COLUMNS by event id;
    #                                     sorted by either: the order of an unpartitioned run
    rejections: pl.DataFrame            # REJECTION_SCHEMA
    superseded: dict[str, int] = field(default_factory=dict)  # rows used then replaced by a later correction
    corrections: int = 0                # events this run adds that replace one an earlier run counted
    skipped: pl.DataFrame | None = None  # REJECTION_SCHEMA: rows of exports for causes the pack lacks


@dataclass
class LinkedFrames:
    """A ``Linked`` read back whole, its spills as frames (for the stages that do not read spills, and for
    tests and household documents: the spills go with the run)."""

    facts: pl.DataFrame  # sorted by household id
    counted: pl.DataFrame  # in any order
    new_events: pl.DataFrame  # ledger_schema, in the order of an unpartitioned run
    rejections: pl.DataFrame
    superseded: dict[str, int] = field(default_factory=dict)
    corrections: int = 0
    skipped: pl.DataFrame | None = None

    @classmethod
    def of(cls, linked: Linked) -> LinkedFrames:
        """The facts sorted by household id, the events added in the order of an unpartitioned run, the
        events counted in any order (no copy more than needed: this is after linking's peak)."""
        def whole(spill: Spill) -> pl.DataFrame:
            parts = list(spill.parts())
            return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical_relaxed")

        facts = whole(linked.facts)  # each partition is sorted by household id
        if linked.counted is None:
            raise ValueError("the events counted were not kept: link with keep_counted")
        return cls(facts if linked.facts.count == 1 else facts.sort("household_id"), whole(linked.counted),
                   _in_order(whole(linked.new_events)),
                   linked.rejections, linked.superseded,
                   linked.corrections, linked.skipped)


def _in_order(events: pl.DataFrame) -> pl.DataFrame:
    """The events added in the order of an unpartitioned run, ledger_schema's columns (``AddedEvents``)."""
    if ORDER_KEY in events.columns:
        return events.sort(ORDER_KEY).drop(ORDER_KEY)
    return events.sort(list(ORDER_COLUMNS)).drop(*ORDER_COLUMNS, "is_correction", strict=False)


# new_events in the order of an unpartitioned run: the sources' order, then the ids seen once before the
# repeated ones, then the drop's order
ORDER_COLUMNS = ("_source", "_again", "_order")
ORDER_KEY = "_key"  # the three packed into one integer (``order_key``)
_SOURCES, _ORDERS = 1 << 9, 1 << 54  # bounds of ``_source`` and ``_order`` for the packed key
RANGES_PER_PARTITION = 4  # the events added by ranges of their order: a range a quarter of a partition


def order_key(sources: int, files: int) -> pl.Expr | None:
    """ORDER_COLUMNS packed into one unsigned integer (ORDER_KEY), if they fit: ``_source`` is below the
    sources' count, ``_order`` below the files' count times 2**32 (``Reading``); else None."""
    if sources >= _SOURCES or files << 32 > _ORDERS:
        return None
    return (pl.col("_source").cast(pl.UInt64) * (_ORDERS * 2) + pl.col("_again").cast(pl.UInt64) * _ORDERS
            + pl.col("_order").cast(pl.UInt64)).alias(ORDER_KEY)


class AddedEvents:
    """The events a run adds, spilled as linking makes them (one event-id partition at a time) for the event
    ledger, whose rows are in the order of an unpartitioned run: by ranges of ORDER_KEY when the order packs
    into one integer (``order_key``; cut where the first partition's events cut evenly, a hash partition
    being a fair sample), so that the ledger sorts each range in turn and writes them one after the other;
    else by event id (the ledger merges the partitions' sorted runs). Spilled once, straight into the ranges:
    re-spilling them by ranges afterwards wrote and read every event once more."""

    def __init__(self, root: Path, count: int, key: pl.Expr | None) -> None:
        self._key = key
        self.spill = (Spill(root, "new-events", count) if key is None else
                      Spill(root, "new-events", 1 if count == 1 else count * RANGES_PER_PARTITION, ranged=True))

    def add(self, index: int, added: pl.DataFrame) -> None:
        """Partition ``index``'s events (by event id)."""
        if self._key is None:
            self.spill.add(index, added)
            return
        # the key holds the order: the columns it packs, and whether an event is a correction (counted
        # where it is made), are not spilled
        self.spill.add_ranges(added.with_columns(self._key).drop(*ORDER_COLUMNS, "is_correction", strict=False),
                             ORDER_KEY)


def _empty_rejections() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTION_SCHEMA)


def _reject(frame: pl.DataFrame, mask: pl.Expr, field: str, reason: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows matching ``mask`` off as rejections of ``field`` with ``reason`` (by ``_order``: ``located``)."""
    flagged = frame.with_columns(mask.fill_null(False).alias("_bad"))
    rejected = flagged.filter(pl.col("_bad")).select(
        pl.col("_order"), pl.lit(field).alias("field"),
        pl.col(field).cast(pl.String).fill_null("").alias("value"), pl.lit(reason).alias("reason"),
    )
    return flagged.filter(~pl.col("_bad")).drop("_bad"), rejected


def _part(spill: Spill, index: int, schema: dict[str, pl.DataType], *, ordered: bool = True,
          again: bool = False) -> pl.DataFrame:
    """Partition ``index``, with at least ``schema``'s columns (a spill nothing was added to has none); in
    the drop's order when ``ordered`` (what keeps the first of several rows needs it), else in any order
    (what only filters, joins, sums or sorts by another key: sorting a partition costs as much as reading it).
    Its files are deleted unless it is to be read ``again``."""
    frame = spill.read(index)
    if not again:
        spill.drop(index)  # read for the last time: the disk holds less
    missing = {name: dtype for name, dtype in schema.items() if name not in frame.columns}
    if missing:
        frame = frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in missing.items())
    return frame.sort("_order") if ordered and "_order" in frame.columns else frame


_ROW = {"_order": pl.Int64()}
_DUPLICATE_HOUSEHOLD = ~pl.col("household_id").is_first_distinct()  # in the drop's order: the first is kept
_PEOPLE = {"id_number": pl.String(), "household_id": pl.String(), "_order": pl.Int64()}


def link(
    reading: Reading,
    *,
    year: int,
    county: str,
    pack: Pack,
    profiles: Sequence[EventSource],
    stored_events: Iterable[pl.DataFrame],
    paid_before: Iterable[pl.DataFrame],
    keep_counted: bool = False,
) -> Linked:
    """Link the drop one partition at a time (``reading.count``), with the same result for any count.

    ``stored_events``: the event ledgers of earlier runs of the county and year, oldest first (the latest
    version of an event counts); ``paid_before``: what the fund paid, as household_id, cause, amount (fen),
    one row per household and cause, in frames of any size. Both are split into partitions as they are read.
    ``keep_counted``: keep the events counted, whole (``Linked.counted``: tests, household documents); the
    facts need only what each counted event adds to its household's base, which is all a run spills.

    Four passes, each over one partition at a time: the households (duplicate households, members of unknown
    households), the people (duplicate people, the people map ID number -> household, each event's household),
    the events by id (duplicates, corrections, which row is current, the rejection of each row), the
    households again (their facts)."""
    count, root = reading.count, reading.root
    # the rows rejected on the way, on disk when the drop is partitioned: they grow with the drop's defects
    rejections = Spill(root, "rejected", 1, hold=count == 1)
    schema = ledger_schema(pack)

    heads = Spill(root, "heads", count, _PEOPLE)
    members_by_person = Spill(root, "members-by-person", count)
    for index in range(count):  # by household
        # read again for the facts, and the duplicates taken out again: cheaper than writing the rest
        register = _part(reading.register, index, {**_ROW, "household_id": pl.String()}, again=True)
        register, bad = _reject(register, _DUPLICATE_HOUSEHOLD, "household_id", "duplicate_household")
        rejections.add(0, detached(bad))
        if "head_id" in register.columns:
            heads.add_split(register.filter(pl.col("head_id").is_not_null()).select(
                pl.col("head_id").alias("id_number"), "household_id", "_order"), "id_number")
        members = _part(reading.members, index, {**_ROW, "household_id": pl.String(), "id_number": pl.String(),
                                                 "labour": pl.Boolean()}, ordered=False)  # ordered by person next
        members, bad = _reject(members, ~pl.col("household_id").is_in(register["household_id"].implode()),
                               "household_id", "unknown_household")
        rejections.add(0, detached(bad))
        members_by_person.add_split(members, "id_number")

    labour = Spill(root, "labour", count, {"household_id": pl.String(), "labour": pl.Boolean()})
    events_by_id = {department: Spill(root, f"linked-{department}", count) for department in reading.events}
    sources = [profile for profile in profiles if profile.department in reading.events]
    for index in range(count):  # by ID number
        members = _part(members_by_person, index, {**_ROW, "household_id": pl.String(), "id_number": pl.String(),
                                                    "labour": pl.Boolean()})
        members, bad = _reject(members, ~pl.col("id_number").is_first_distinct(), "id_number", "duplicate_person")
        rejections.add(0, detached(bad))
        labour.add_split(members.select("household_id", "labour"), "household_id")
        people = pl.concat([members.select("id_number", "household_id"),
                            _part(heads, index, _PEOPLE).select("id_number", "household_id")]
                           ).unique(subset="id_number", keep="first", maintain_order=True)
        del members
        for profile in sources:
            events = _part(reading.events[profile.department], index, {}, ordered=False)  # by event id next
            assert profile.event_id is not None
            events_by_id[profile.department].add_split(events.join(people, on="id_number", how="left"),
                                                       profile.event_id)

    stored = Spill(root, "stored", count)
    for ledger in stored_events:
        stored.add_split(ledger, "event_id")
    new_events = AddedEvents(root, count, order_key(len(profiles), reading.files))
    counted = Spill(root, "counted", count) if keep_counted else None
    counts = Spill(root, "counts", count, _COUNTS)  # what each event counted adds to its household's base
    contribution = _contribution(pack)
    # rows used then replaced, per export that has rows to link (in the sources' order)
    superseded = {profile.department: 0 for profile in sources if events_by_id[profile.department].height}
    corrections = 0
    for index in range(count):  # by event id
        earlier = stored.read(index)
        stored.drop(index)
        earlier = (earlier.unique(subset=["department", "event_id"], keep="last", maintain_order=True)
                   if earlier.height else pl.DataFrame(schema=CORE_SCHEMA))
        fresh: list[pl.DataFrame] = []
        for position, profile in enumerate(profiles):
            if profile.department not in events_by_id or events_by_id[profile.department].height == 0:
                continue
            # in any order: _link_events orders the rows of repeated ids itself, the ledger is sorted by
            # ORDER_COLUMNS, the rejections by file and row, the sums do not depend on it
            events = _part(events_by_id[profile.department], index, {}, ordered=False)
            if events.height == 0:
                continue
            accepted, rejected, replaced = _link_events(
                events, profile, pack, year, earlier.filter(pl.col("department") == profile.department))
            rejections.add(0, detached(rejected))
            superseded[profile.department] += replaced
            fresh.append(conform(accepted, {**schema, "is_correction": pl.Boolean()}).with_columns(
                pl.lit(position, pl.UInt32).alias("_source"), accepted["_again"], accepted["_order"]))
        added = (pl.concat(fresh, how="vertical_relaxed") if fresh else
                 pl.DataFrame(schema={**schema, "is_correction": pl.Boolean(), "_source": pl.UInt32(),
                                      "_again": pl.Boolean(), "_order": pl.Int64()}))
        new_events.add(index, added)
        corrections += int(added["is_correction"].sum())
        kept = earlier.join(added.select("department", "event_id"), on=["department", "event_id"], how="anti")
        now = pl.concat([conform(kept, schema), added.select(list(schema))], how="vertical_relaxed")
        counts.add_split(now.select("household_id", "cause", contribution.alias("_counts")), "household_id")
        if counted is not None:
            counted.add_split(now, "household_id")
        del now

    paid = Spill(root, "paid", count, {"household_id": pl.String(), "cause": pl.String(), "amount": pl.Int64()})
    for frame in paid_before:
        paid.add_split(frame, "household_id")
    # the facts by ranges of household id, cut where the first partition's households cut them evenly: read one
    # partition after the other, the households are in order (deciding's output needs no merge)
    facts = Spill(root, "facts", count, ranged=True)
    for index in range(count):  # by household
        register = _part(reading.register, index, {**_ROW, "household_id": pl.String()}).filter(
            ~_DUPLICATE_HOUSEHOLD)  # the households kept in the first pass
        made = _household_facts(
            register, _part(labour, index, {}), _part(counts, index, _COUNTS),
            _paid_wide(_part(paid, index, {}), pack.cause_ids), pack, county, year)
        facts.add_ranges(made, "household_id")
    # each rejection's file and row from its place in the drop, once: the rows were spilled without them
    located_rows = located(rejections.read(0), reading.names) if rejections.height else None
    rejections.drop(0)
    all_rejections = (_empty_rejections() if located_rows is None
                      else located_rows.select(list(REJECTION_SCHEMA)))
    all_skipped = pl.concat([frame.select(list(REJECTION_SCHEMA)) for frame in reading.skipped] or
                            [_empty_rejections()], how="vertical_relaxed")
    return Linked(facts, counted, new_events.spill, all_rejections, superseded, corrections, all_skipped)


def _paid_wide(paid: pl.DataFrame, causes: Sequence[str]) -> pl.DataFrame:
    """household_id and ``{cause}_paid_before`` for each cause of the pack (0 where nothing was paid)."""
    wide = (paid.pivot(on="cause", index="household_id", values="amount") if paid.height
            else pl.DataFrame(schema={"household_id": pl.String}))
    return wide.select(
        "household_id",
        *(pl.col(c).fill_null(0).cast(pl.Int64).alias(f"{c}_paid_before") if c in wide.columns
          else pl.lit(0, pl.Int64).alias(f"{c}_paid_before") for c in causes),
    )


def _link_events(
    events: pl.DataFrame, profile: EventSource, pack: Pack, year: int, stored: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The rows of one export with the ids of one partition, in the drop's order, each with the household
    of its person (``household_id``, null for an unknown person)."""
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
    events = events.with_columns(
        pl.when(pl.col("_previous") == pl.col("content")).then(pl.lit("duplicate_event"))
        .when(pl.col("household_id").is_null()).then(pl.lit("unknown_person"))
        .when(pl.col("date").dt.year() != year).then(pl.lit("outside_policy_year"))
        .alias("_reason")
    )
    field_of = {"duplicate_event": id_field, "unknown_person": "id_number", "outside_policy_year": "date"}
    bad = events.filter(pl.col("_reason").is_not_null())
    rejected = bad.select(
        pl.col("_order"),
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


_COUNTS = {"household_id": pl.String(), "cause": pl.String(), "_counts": pl.Int64()}


def _contribution(pack: Pack) -> pl.Expr:
    """What an event counted (a row of the ledger) adds to its household's base of its cause: its amount if
    the pack counts it (an event of a cause the pack lacks adds nothing), else 0."""
    contribution: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for cause in pack.causes:
        counts = counts_expr(cause, pack)
        contribution = (pl.when((pl.col("cause") == cause.id) & counts).then(pl.col("amount_fen"))
                        .otherwise(contribution))
    return contribution


def _household_facts(
    register: pl.DataFrame,
    members: pl.DataFrame,
    counts: pl.DataFrame,
    paid_before: pl.DataFrame,
    pack: Pack,
    county: str,
    year: int,
) -> pl.DataFrame:
    """``counts``: what each event counted adds to its household's base (``_contribution``)."""
    causes = pack.cause_ids
    sums = (
        counts.group_by("household_id")
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
