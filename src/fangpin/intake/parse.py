"""One department export to its typed valid rows and the outcomes of its rejected and skipped rows.

Everything here is per column: the value readers of :mod:`fangpin.intake.values` over whole columns, the
row's first defect (in the field order of docs/exports.md section 3, then the cross-field checks) picked with
coalesce. Rules that span files (unknown household or person, duplicates, the policy year) are the caller's.

For every file: ``rows_read`` = used (``rows``) + rejected + skipped (both in ``outcomes``).

Length: over 300 lines because a row's first defect is chosen across all its fields in one pass (the
order of docs/exports.md section 3); the per-kind readers are already in ``intake.values``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fangpin.intake import values
from fangpin.intake.errors import MissingColumnError
from fangpin.intake.profiles import FieldSpec, HeaderMatch, Profile, Profiles
from fangpin.intake.readers import HeaderTest, RawTable, read_header, read_tables

OUTCOME_SCHEMA = pl.Schema({
    "file": pl.String(), "row": pl.Int64(), "field": pl.String(), "value": pl.String(), "reason": pl.String(),
})
SKIP_REASONS = ("title", "blank", "total")
TOTAL_MARKERS = ("合计", "总计")

RowSink = Callable[[str, pl.DataFrame], None]  # a chunk's valid rows, with their department

_KIND_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(), "id_number": pl.String(), "amount": pl.Int64(), "date": pl.Date(), "int": pl.Int64(),
}


@dataclass(frozen=True)
class Identified:
    """What a file's header row says: its department, where the header is, which column holds each field."""

    file: str
    department: str
    label: str
    header_row: int
    headers: Mapping[str, str]  # canonical field -> the header cell as written in the file
    extra_columns: tuple[str, ...]


@dataclass(frozen=True)
class ParsedExport:
    file: str
    department: str
    label: str
    encoding: str  # utf-8 | utf-8-sig | gb18030 | xlsx
    header_row: int
    rows_read: int
    rows: pl.DataFrame  # valid rows: see output_schema()
    outcomes: pl.DataFrame  # rejected and skipped rows: OUTCOME_SCHEMA, ordered by row
    headers: Mapping[str, str]
    extra_columns: tuple[str, ...]

    @property
    def used(self) -> int:
        return self.rows_read - self.outcomes.height  # the rows may have gone to a sink (``parse_export``)

    @property
    def skipped(self) -> int:
        return int(self.outcomes["reason"].is_in(SKIP_REASONS).sum())

    @property
    def rejected(self) -> int:
        return self.outcomes.height - self.skipped


def identify_export(path: Path, profiles: Profiles, *, sheet: str | None = None) -> Identified:
    """The department of a file from its header row alone (cheap: the rows are not read).

    Raises UnrecognisedFileError when no department's header row is near the top, MissingColumnError when
    the file clearly is one department's but lacks a required column, UnreadableFileError.
    """
    path = Path(path)
    header_row, header = read_header(path, _header_test(profiles), sheet=sheet)
    match = _checked_match(path.name, profiles, header)
    return Identified(path.name, match.profile.department, match.profile.label, header_row,
                      _headers(match, header), match.extra)


def parse_export(path: Path, profiles: Profiles, *, sheet: str | None = None,
                 sink: RowSink | None = None) -> ParsedExport:
    """Read, type and check one export. Raises as :func:`identify_export` does.

    ``sink``: each chunk's valid rows are handed to it (department, rows), in file order, as soon as they are
    checked, instead of being kept: the export's ``rows`` are then empty (its schema only), and at most two
    chunks are held at once whatever the file's size."""
    path = Path(path)
    tables = read_tables(path, _header_test(profiles), sheet=sheet)
    first = next(tables)
    match = _checked_match(path.name, profiles, first.header)
    department = match.profile.department
    file, encoding, header_row, headers = first.file, first.encoding, first.header_row, _headers(match, first.header)
    kept: list[pl.DataFrame] = []
    outcomes: list[pl.DataFrame] = []
    read = 0

    def take(part: _Part) -> None:
        nonlocal read
        read += part.read
        outcomes.append(part.outcomes)
        if sink is None:
            kept.append(part.rows)
        else:  # an empty chunk too: the rows' schema
            sink(department, part.rows)

    with ThreadPoolExecutor(max_workers=1) as worker:
        # The next chunk is decoded here while the worker evaluates the previous one: one chunk waits at most.
        pending = worker.submit(_evaluate, first, match)
        del first
        for table in tables:
            following = worker.submit(_evaluate, table, match)
            del table
            take(pending.result())
            pending = following
        take(pending.result())
    schema = output_schema(match.profile)
    rows = (pl.DataFrame(schema=schema) if sink is not None or not kept
            else pl.concat(kept) if len(kept) > 1 else kept[0])
    return ParsedExport(
        file=file, department=department, label=match.profile.label, encoding=encoding, header_row=header_row,
        rows_read=read, rows=rows, outcomes=pl.concat(outcomes) if len(outcomes) > 1 else outcomes[0],
        headers=headers, extra_columns=match.extra,
    )


def output_schema(profile: Profile) -> pl.Schema:
    """The columns of the valid rows of a department: ``row``, every field in profile order (a column the
    file lacks is all null), then what is derived: ``burden``, ``own_loss``, code flags (``stage_counts``)."""
    schema: dict[str, pl.DataType] = {"row": pl.Int64()}
    schema.update({spec.name: _dtype(spec) for spec in profile.fields})
    if "burden" in profile.rules:
        schema["burden"] = pl.Int64()
    if "own_loss" in profile.rules:
        schema["own_loss"] = pl.Int64()
    schema.update({spec.flag.name: pl.Boolean() for spec in profile.fields if spec.flag})
    return pl.Schema(schema)


def _header_test(profiles: Profiles) -> HeaderTest:
    return lambda cells: profiles.match(cells) is not None


def _checked_match(file: str, profiles: Profiles, header: tuple[str, ...]) -> HeaderMatch:
    match = profiles.match(header)
    assert match is not None, "the reader returns only a header row that matches"
    if match.missing:
        raise MissingColumnError(file=file, department=match.profile.department,
                                 missing=[(spec.name, spec.canonical_header) for spec in match.missing])
    return match


def _headers(match: HeaderMatch, header: tuple[str, ...]) -> dict[str, str]:
    return {spec.name: header[match.columns[spec.name]].strip() for spec in match.profile.fields
            if spec.name in match.columns}


# --- evaluation --------------------------------------------------------------------------------------------

def _t(name: str) -> str:
    return f"__t_{name}"


def _b(name: str) -> str:
    return f"__b_{name}"


def _v(name: str) -> str:
    return f"__v_{name}"


def _r(name: str) -> str:
    return f"__r_{name}"


@dataclass(frozen=True)
class _Part:
    rows: pl.DataFrame
    outcomes: pl.DataFrame
    read: int


def _evaluate(raw: RawTable, match: HeaderMatch) -> _Part:
    profile = match.profile
    present = [spec for spec in profile.fields if spec.name in match.columns]
    cell = {spec.name: pl.col(f"c{match.columns[spec.name]}") for spec in present}
    plain, wide = _column_traits(raw.cells, present, cell)

    plan = raw.cells.lazy().with_columns(
        *[values.prepared(cell[spec.name], spec.kind, widen=spec.name in wide, plain=spec.name in plain)
          .alias(_t(spec.name)) for spec in present],
    )
    blanks: values.Stages = [[values.is_blank(pl.col(_t(spec.name))).alias(_b(spec.name)) for spec in present]
                             + [_total_hint(match, raw.columns[0]).alias("__hint")]]
    plan = values.run_stages(plan, [blanks, *[_reader(spec) for spec in present]])
    frame = _read_the_rest(plan.collect(), present)

    plan = frame.lazy().with_columns(
        *[_defect(spec).alias(_r(spec.name)) for spec in present],
        *[_final(spec).alias(spec.name) for spec in present],
        *[pl.lit(None, _dtype(spec)).alias(spec.name) for spec in profile.fields if spec.name not in match.columns],
        pl.all_horizontal([pl.col(_b(spec.name)) for spec in present]).alias("__blank_row"),
    )
    plan = _with_one_of(plan, profile, present)
    plan, checks = _with_rules(plan, profile, set(match.columns))
    defects = [(spec.name, spec.reject_reason, _r(spec.name)) for spec in present] + checks
    plan = plan.with_columns(
        pl.any_horizontal([pl.col(column) for _, _, column in defects]).alias("__rejected"),
        *[pl.col(spec.name).is_in(spec.flag.when).alias(spec.flag.name) for spec in profile.fields if spec.flag],
    )
    rows, outcomes = _split(plan.collect(), raw, profile,
                            [(field, reason, column, cell[field]) for field, reason, column in defects])
    return _Part(rows, outcomes, raw.cells.height + raw.skipped.height)


def _read_the_rest(frame: pl.DataFrame, present: list[FieldSpec]) -> pl.DataFrame:
    """Dates not in the ISO form are read by the general reader, on those cells only."""
    for spec in present:
        if spec.kind != "date":
            continue
        value, trimmed, blank = _v(spec.name), _t(spec.name), _b(spec.name)
        pending = frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("__index"), trimmed,
                               (pl.col(value).is_null() & ~pl.col(blank)).alias("__pending")).filter("__pending")
        if pending.is_empty():
            continue
        read = values.run_stages(pending.lazy(), [values.date_any(trimmed, value)]).collect()
        frame = frame.with_columns(frame[value].scatter(read["__index"], read[value]))
    return frame


def _total_hint(match: HeaderMatch, first_column: str) -> pl.Expr:
    """Rows that may be totals rows (first cell 合计/总计, or blank so that a later cell may be): a cheap
    superset, checked exactly on those rows only."""
    mapped = [name for name, column in match.columns.items() if f"c{column}" == first_column]
    if mapped:
        first = pl.col(_t(mapped[0]))
        return values.is_blank(first) | first.str.contains("计", literal=True)
    return pl.col(first_column).is_null() | pl.col(first_column).str.contains(r"^\s*$|计")


def _column_traits(cells: pl.DataFrame, present: list[FieldSpec],
                   cell: Mapping[str, pl.Expr]) -> tuple[set[str], set[str]]:
    """Fields whose whole column is ASCII (nothing to strip or widen there), and fields whose column holds
    full-width forms (to be made ASCII first): both cheap aggregates, so that the costly steps run only
    where they change something."""
    checked = [spec for spec in present if spec.kind != "text"]
    if not checked:
        return set(), set()
    flags = cells.select([values.is_ascii(cell[spec.name]).alias(spec.name) for spec in checked]).row(0)
    plain = {spec.name for spec, flag in zip(checked, flags, strict=True) if flag}
    wide = [spec.name for spec in checked if spec.name not in plain]
    if not wide:
        return plain, set()
    found = cells.select([values.has_fullwidth(cell[name]).alias(name) for name in wide]).row(0)
    return plain, {name for name, flag in zip(wide, found, strict=True) if flag}


def _reader(spec: FieldSpec) -> values.Stages:
    source, target = _t(spec.name), _v(spec.name)
    if spec.kind == "text":
        return values.text(source, target)
    if spec.kind == "id_number":
        return values.id_number(source, target)
    if spec.kind == "amount":
        return values.amount_fen(source, target)
    if spec.kind == "date":
        return values.date(source, target)
    if spec.kind == "int":
        return values.integer(source, target)
    return values.code(source, target, spec.values, _dtype(spec))


def _defect(spec: FieldSpec) -> pl.Expr:
    blank, value = pl.col(_b(spec.name)), pl.col(_v(spec.name))
    defect = ~blank & value.is_null()
    if spec.blank_rule == "reject":
        defect = defect | blank
    if spec.min is not None:
        defect = defect | (value < spec.min).fill_null(False)
    return defect


def _final(spec: FieldSpec) -> pl.Expr:
    value = pl.col(_v(spec.name))
    if spec.blank_rule == "zero":
        return pl.when(pl.col(_b(spec.name))).then(pl.lit(0, pl.Int64)).otherwise(value)
    return value


def _with_one_of(plan: pl.LazyFrame, profile: Profile, present: list[FieldSpec]) -> pl.LazyFrame:
    """A group of alternative fields (income / income_per_capita) needs a value in one of them: when all are
    blank, the first present one is at fault."""
    names = {spec.name for spec in present}
    for group in profile.one_of:
        given = [name for name in group if name in names]
        if given:
            all_blank = pl.all_horizontal([pl.col(_b(name)) for name in given])
            plan = plan.with_columns((pl.col(_r(given[0])) | all_blank).alias(_r(given[0])))
    return plan


def _with_rules(plan: pl.LazyFrame, profile: Profile,
                present: set[str]) -> tuple[pl.LazyFrame, list[tuple[str, str, str]]]:
    """Derived columns and the cross-field checks, each check as (field reported, reason, flag column)."""
    checks: list[tuple[str, str, str]] = []
    if "burden" in profile.rules:
        burden = pl.col("total") - pl.col("basic") - pl.col("critical") - pl.col("assistance")
        plan = plan.with_columns(burden.alias("burden"))
        plan = plan.with_columns((pl.col("burden") < 0).fill_null(False).alias("__r_burden"))
        checks.append(("total", "inconsistent_amounts", "__r_burden"))
        if "personal" in present:
            personal = pl.col("personal")
            plan = plan.with_columns(
                (personal.is_not_null() & ((personal - pl.col("burden")).abs() > 1)).fill_null(False)
                .alias("__r_personal_burden"))
            checks.append(("personal", "inconsistent_amounts", "__r_personal_burden"))
    if "own_loss" in profile.rules:
        plan = plan.with_columns((pl.col("loss") - pl.col("compensation")).clip(lower_bound=0).alias("own_loss"))
    return plan, checks


def _split(frame: pl.DataFrame, raw: RawTable, profile: Profile,
           defects: list[tuple[str, str, str, pl.Expr]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid rows, and the outcomes of the others; the first defect (in field order) of a rejected row is
    picked on the (few) rejected rows only."""
    totals = _total_rows(frame.filter(pl.col("__hint")), raw.columns)
    is_total = pl.col("row").is_in(totals.implode())
    schema = output_schema(profile)
    rows = frame.filter(~is_total & ~pl.col("__blank_row") & ~pl.col("__rejected")).select(list(schema))
    others = frame.filter(is_total | pl.col("__blank_row") | pl.col("__rejected"))
    first = [pl.when(pl.col(column)) for _, _, column, _ in defects]
    rejected = others.select(
        pl.lit(raw.file).alias("file"),
        "row",
        pl.coalesce([when.then(pl.lit(field)) for when, (field, _, _, _) in zip(first, defects, strict=True)])
        .alias("field"),
        pl.coalesce([when.then(cell.fill_null("")) for when, (_, _, _, cell) in zip(first, defects, strict=True)])
        .alias("value"),
        pl.when(is_total).then(pl.lit("total")).when(pl.col("__blank_row")).then(pl.lit("blank"))
        .otherwise(pl.coalesce([when.then(pl.lit(reason)) for when, (_, reason, _, _) in
                                zip(first, defects, strict=True)])).alias("reason"),
    ).with_columns(
        pl.when(pl.col("reason").is_in(SKIP_REASONS)).then(pl.lit("")).otherwise(pl.col(name)).alias(name)
        for name in ("field", "value")
    )
    above = raw.skipped.select(pl.lit(raw.file).alias("file"), "row", pl.lit("").alias("field"),
                               pl.lit("").alias("value"), "reason")
    outcomes = pl.concat([above.cast(OUTCOME_SCHEMA), rejected.cast(OUTCOME_SCHEMA)])
    return rows.cast(schema), outcomes


def _total_rows(candidates: pl.DataFrame, columns: tuple[str, ...]) -> pl.Series:
    """Rows whose first non-blank cell is 合计 or 总计 (spaces inside ignored)."""
    squeezed = [pl.col(name).str.replace_all(r"\s", "") for name in columns]
    first = pl.coalesce([pl.when(cell != "").then(cell) for cell in squeezed])
    return candidates.filter(first.is_in(TOTAL_MARKERS))["row"]


def _dtype(spec: FieldSpec) -> pl.DataType:
    if spec.kind == "code":
        return pl.Boolean() if spec.is_boolean_code else pl.String()
    return _KIND_DTYPES[spec.kind]
