"""Screen one county's data drop for one policy year: read, link, decide, store, report.

Nothing is stored until everything has been read and decided; the run, its decisions, the events it
counted and the payments it makes are then written in one transaction, so a run killed half-way leaves
nothing behind and can simply be run again. The result files are written to a temporary folder and moved
into place once the transaction has committed.

Length: over 300 lines because this is the one use case that runs every stage (read, link, decide, store,
report) and accounts for each in run.json; each stage's work lives in its own module.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from fangpin.config import Settings, get_settings
from fangpin.db import decision_causes, queries
from fangpin.db.chained import Appended, append_frames, append_one, chained_columns
from fangpin.db.locks import lock_chain
from fangpin.db.models import (
    DECISION_LAYOUT,
    LEDGER_PART_BYTES,
    DecisionRecord,
    Payment,
    Run,
    RunEventPart,
    RunEvents,
    RunResults,
)
from fangpin.db.session import session_scope
from fangpin.errors import StorageError
from fangpin.frames import detached
from fangpin.intake.errors import UnrecognisedFileError
from fangpin.intake.guard import FileLimits, check_export, is_xlsx
from fangpin.intake.parallel import cores, parse_all
from fangpin.intake.parse import ParsedExport, identify_export
from fangpin.intake.profiles import load_profiles
from fangpin.money import fen_text
from fangpin.packs import Pack
from fangpin.private import private_dir, private_tree
from fangpin.reports.results import (
    REJECTION_HEADER,
    CsvFile,
    decision_rows,
    household_rows,
    write_rejection_slices,
    write_run_json,
)
from fangpin.reports.shown import Shown
from fangpin.reports.workbook import REJECTIONS_TOTAL, VISIT_COLUMNS, visit_rows
from fangpin.screening import bulk, partitions
from fangpin.screening.bulk import (
    Totals,
    add_sorted,
    decide_spilled,
    merged,
    merged_parts,
    slices,
    sorted_ranges,
    streamed,
)
from fangpin.screening.linking import (
    ORDER_COLUMNS,
    ORDER_KEY,
    REJECTION_SCHEMA,
    EventSource,
    Linked,
    LinkedFrames,
    Reading,
    ledger_schema,
    link,
)
from fangpin.screening.spill import Spill, spill_root
from fangpin.services import drop_checks as checks
from fangpin.services import resolve_pack
from fangpin.services.drop_checks import DropError

# Reasons a row is skipped rather than rejected: layout rows of a file, and the rows of an export for a
# cause the deciding pack does not have (docs/exports.md section 2).
SKIP_REASONS = ("title", "blank", "total", "not_in_pack")
HOUSEHOLD_COLUMNS = ["household_id", "head_name", "head_id", "township", "village"]  # households.csv

Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass
class ScreenRequest:
    drop: Path
    year: int
    county: str
    database_url: str
    pack_dir: Path | None = None
    out_dir: Path | None = None
    runs_dir: Path = Path("runs")
    sources_dir: Path | None = None
    workers: int = 0  # processes for reading large files; 0: one per core
    staging_tag: str | None = None  # names the run's half-written result folder (a job's, to clean up after it)
    limits: FileLimits | None = None  # on each file of the drop; None: from the settings (docs/limits.md)
    keep_linked: bool = False  # keep the linked facts and events in the result (tests); else they are let go of


@dataclass
class ScreenResult:
    run: dict[str, Any]
    out_dir: Path | None
    already: bool = False
    linked: LinkedFrames | None = None  # only if the request asked to keep it (``keep_linked``)
    warnings: list[str] = field(default_factory=list)
    database_url: str = ""

    @functools.cached_property
    def rejections(self) -> pl.DataFrame:
        """The run's rejected rows (``REJECTION_HEADER``) in file and row order, read back from the database
        (a screening holds them only on disk while it runs: they grow with the drop's defects); none when the
        drop was screened before (``already``)."""
        if self.already or not self.database_url:
            return pl.DataFrame(schema=REJECTION_SCHEMA)
        with session_scope(self.database_url) as session:
            data = session.execute(select(RunResults.rejections)
                                   .where(RunResults.run_id == str(self.run["run_id"]))).scalar_one_or_none()
        return pl.read_parquet(io.BytesIO(data)) if data else pl.DataFrame(schema=REJECTION_SCHEMA)

    def decisions(self) -> pl.DataFrame:
        """The run's decisions as stored, read back from the database (a screening holds them only on disk
        while it runs): one row per household in household order, money in fen, each cause a column."""
        with session_scope(self.database_url) as session:
            return stored_decisions(session, str(self.run["run_id"]))


_STORED = ("household_id", "township", "village", "status", "members", "per_capita_income", "labour_capacity",
           "housing_secure", "bases", "paid_before", "rules", "group", "outcome", "amounts", "payout", "fee")
_STORED_TEXT = frozenset({"household_id", "township", "village", "status", "bases", "paid_before", "rules", "group",
                          "outcome", "amounts"})


def stored_decisions(session: Any, run_id: str) -> pl.DataFrame:
    """A stored run's decisions in household order: the stored facts and decision (``_STORED``), with each
    cause of its pack as columns (``<cause>_base``, ``<cause>_paid_before``, ``<cause>``: fen). Derived facts
    follow under the pack (``screening.bulk.with_derived_columns``)."""
    rows = session.execute(select(*(DecisionRecord.__table__.c[name] for name in _STORED))
                           .where(DecisionRecord.run_id == run_id).order_by(DecisionRecord.household_id)).all()
    frame = pl.DataFrame([tuple(row) for row in rows], orient="row",
                         schema={name: pl.String if name in _STORED_TEXT else pl.Int64 for name in _STORED})
    causes = list(json.loads(frame["amounts"][0])) if frame.height else []  # the pack's causes, in its order
    return decision_causes.expanded(frame, causes)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


def file_limits(settings: Settings | None = None, *, max_file_mb: int | None = None) -> FileLimits:
    """The limits on untrusted files from the settings (docs/limits.md)."""
    settings = settings or get_settings()
    return FileLimits(
        max_file_bytes=(max_file_mb or settings.max_drop_file_mb) << 20,
        xlsx_max_entries=settings.xlsx_max_entries,
        xlsx_max_uncompressed_bytes=settings.xlsx_max_uncompressed_mb << 20,
        xlsx_max_ratio=settings.xlsx_max_ratio,
        xlsx_max_cells=settings.xlsx_max_cells,
        xlsx_max_columns=settings.xlsx_max_columns,
        parse_memory_bytes=settings.parse_memory_mb << 20,
        parse_seconds=float(settings.parse_seconds),
    )


def drop_files(drop: Path) -> list[Path]:
    if drop.is_file():
        raise DropError(f"{drop}: 这是一个文件,这里需要的是数据包的文件夹:请给出存放各部门导出文件的文件夹"
                        f"(此处为 {drop.parent})")
    if not drop.is_dir():
        raise DropError(f"{drop}: 没有这个文件夹:请检查路径")
    files = sorted(path for path in drop.iterdir()
                   if path.is_file() and path.suffix.lower() in (".csv", ".xlsx") and not path.name.startswith("~$"))
    if not files:
        raise DropError(f"{drop}: 文件夹里(不含子文件夹)没有 .csv 或 .xlsx 文件:请把各部门的导出文件直接放在此文件夹中")
    return files


class _Stopwatch:
    """Wall seconds per stage, for run.json and the benchmark: where the time goes."""

    def __init__(self, progress: Progress) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}  # this process and its workers: robust to other load
        self._progress = progress
        self._mark = time.perf_counter()
        self._cpu = self._cpu_now()

    @staticmethod
    def _cpu_now() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def lap(self, stage: str, done: int = 1, total: int = 1) -> None:
        now, cpu = time.perf_counter(), self._cpu_now()
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + now - self._mark, 3)
        self.cpu_seconds[stage] = round(self.cpu_seconds.get(stage, 0.0) + cpu - self._cpu, 3)
        self._mark, self._cpu = now, cpu
        self._progress(stage, done, total)


def screen(request: ScreenRequest, progress: Progress = _no_progress) -> ScreenResult:
    spare: list[subprocess.Popen[bytes]] = []  # the workbook's process, started early; ended if never used
    try:
        # the drop's rows on disk by partition, removed however the run ends
        with spill_root(get_settings().spill_dir) as root:
            return _screen(request, progress, spare, root)
    finally:
        for process in spare:
            _dismiss(process)


def _screen(request: ScreenRequest, progress: Progress, spare: list[subprocess.Popen[bytes]],
            root: Path) -> ScreenResult:
    started = dt.datetime.now(dt.UTC)
    clock = _Stopwatch(progress)
    pack = resolve_pack(request.year, request.pack_dir)
    profiles = load_profiles(request.sources_dir)
    files = drop_files(request.drop)
    limits = request.limits or file_limits()
    for path in files:  # before any parser opens them (docs/limits.md)
        check_export(path, limits)

    hashes: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=cores()) as hashing:  # hashlib lets go of the GIL on large blocks
        for index, (path, digest) in enumerate(zip(files, hashing.map(_sha256, files), strict=True)):
            hashes[path.name] = digest
            clock.lap("hashing", index + 1, len(files))
    drop_hash = hashlib.sha256("\n".join(f"{n}:{h}" for n, h in sorted(hashes.items())).encode()).hexdigest()

    # Identify every CSV from its header before reading any rows: a file missing a required column fails
    # the run here, before anything is stored. An xlsx is identified where it is read: in a worker process.
    recognised: list[Path] = []
    not_recognised: list[UnrecognisedFileError] = []
    for path in files:
        if is_xlsx(path):
            recognised.append(path)
            continue
        try:
            identify_export(path, profiles)
            recognised.append(path)
        except UnrecognisedFileError as error:
            not_recognised.append(error)

    with session_scope(request.database_url) as session:
        earlier = queries.run_for_drop(session, request.county, request.year, drop_hash, pack.hash)
        if earlier is not None:
            return ScreenResult(run=_already(earlier), out_dir=None, already=True, database_url=request.database_url)

    spare.append(_ready_workbook())  # its interpreter starts and imports while the drop is read
    workers = request.workers or cores()
    sources = [EventSource(p.department, p.cause, p.event_id, tuple(p.content), tuple(p.set.items()))
               for p in profiles]
    parts = partitions.plan(sum(path.stat().st_size for path in recognised))
    # the valid rows go to disk chunk by chunk, by partition, as they are read: only the outcomes stay here
    reading = Reading(root, parts, [path.name for path in files], pack, sources, request.county)
    drop = parse_all(recognised, profiles, request.sources_dir, workers,
                     lambda done, total: progress("reading", done, total), limits, sink=reading.add)
    parsed = drop.exports
    order = {path.name: index for index, path in enumerate(files)}
    not_recognised = sorted(not_recognised + drop.unrecognised, key=lambda error: order[error.file])
    del drop
    unrecognised = [error.file for error in not_recognised]
    checks.require_register(request.drop, parsed, not_recognised, profiles)
    checks.check_county(sorted(reading.registers.values(), key=lambda sample: order[sample.file]), request.county)
    clock.lap("reading", len(recognised), len(recognised))

    with session_scope(request.database_url) as session:  # split into partitions as they are read
        linked = link(reading, year=request.year, county=request.county, pack=pack, profiles=sources,
                      stored_events=queries.stored_ledgers(session, request.county, request.year),
                      paid_before=queries.paid_before_rows(session, request.county, request.year),
                      keep_counted=request.keep_linked)
    del reading
    clock.lap("linking")
    frames = LinkedFrames.of(linked) if request.keep_linked else None  # tests: the linked frames whole
    if linked.counted is not None:  # the events counted made the facts: nothing reads them again
        for index in range(linked.counted.count):
            linked.counted.drop(index)
    with ThreadPoolExecutor(max_workers=1) as ledgering:
        facts, events = linked.facts, linked.new_events
        # the event ledger's file is written on the other core while the households are decided (polars
        # lets go of the interpreter lock); storing waits for it
        ledger = ledgering.submit(_ledger, events, pack, root / "ledger.parquet")
        # on disk even in one partition: the result files and storing read them back a slice at a time
        decisions = Spill(root, "decisions", parts, hold=False, ranged=facts.ranged)
        visits = Spill(root, "visits", parts)
        shown: list[Shown] = []  # what the workbook shows of the partitions decided so far: one, combined

        def each(index: int, decided: pl.DataFrame) -> None:
            add_sorted(visits, index, detached(_visit_run(decided, pack.cause_ids)))  # not pinning `decided`
            shown[:] = [Shown.combined([*shown, Shown.of(decided, pack.cause_ids)])]

        totals = decide_spilled(facts, pack, decisions, each)
        for index in range(facts.count):
            facts.drop(index)
        clock.lap("deciding")

        rejections = pl.concat(
            [p.outcomes.filter(~pl.col("reason").is_in(["title", "blank", "total"])) for p in parsed]
            + [linked.rejections], how="vertical_relaxed",
        ).sort(["file", "row"])
        run_id = f"{request.county}-{request.year}-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        run = _run_summary(run_id, request, pack, parsed, unrecognised, hashes, linked, totals, started)
        warnings = checks.check_year(run, request.year, linked.rejections, profiles)  # the run is still valid
        if warnings:
            run["warnings"] = warnings
        del parsed, linked  # their rejections are copied into ``rejections``: not held twice while storing
        # on disk while the run is stored: rejections.csv and the database read them from there, the
        # workbook's process is given the rows its sheet shows and how many there are
        rejected = root / "rejections.parquet"
        rejections.select(REJECTION_HEADER).write_parquet(rejected, compression="zstd", statistics=False)
        listed = Shown.combined(shown)
        first_rejections, rejected_rows = rejections.head(listed.limit), rejections.height
        del rejections

        out_dir = request.out_dir or request.runs_dir / run_id
        with staged(out_dir, request.staging_tag) as staging:
            write_run_json(staging / "run.json", run)  # before storing adds to ``run``
            report = _start_workbook(staging, run, listed, first_rejections, rejected_rows, spare)
            clock.lap("writing")
            # The other result files are written while the run is stored: polars writes them outside the
            # interpreter lock, on the other core. The storing transaction commits only once they are written
            # (``results``), so a run is still stored with all its files or not at all.
            with ThreadPoolExecutor(max_workers=1) as beside:
                written = beside.submit(_write_results, staging, pack, decisions, visits, rejected, root)
                try:
                    kept = Stored(decisions, ledger, events.height, totals, root)
                    _store(request, pack, run, drop_hash, started, kept, clock, written.result)
                    clock.lap("storing: commit")
                except BaseException:
                    _stop_workbook(report, staging)  # nothing was stored: the run's files are thrown away
                    raise
            # The run is stored: whatever happens to the workbook, the files written so far are kept.
            failure = _finish_workbook(report, staging)
            if failure:
                warnings.append(f"{failure};本次运行已保存,其他结果文件已写出:请用 `fangpin report --run {run_id}` "
                                "重新生成工作簿")
            clock.lap("report")
    run["seconds"] = clock.seconds
    run["cpu_seconds"] = clock.cpu_seconds
    if warnings:
        run["warnings"] = list(warnings)
    (out_dir / "run.json").write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return ScreenResult(run=run, out_dir=out_dir,
                        linked=frames, warnings=warnings,
                        database_url=request.database_url)


@dataclass
class Stored:
    """What a run stores beyond its summary, as the run holds it: on disk, by partition."""

    decisions: Spill  # each partition sorted by household
    ledger: Future[Path]  # the event ledger's Parquet file (``_ledger``)
    events: int  # the events the run counts
    totals: Totals
    root: Path  # the run's spill folder, for the files written on the way


VISIT_KEY = ["_township_null", "township", "_village_null", "village", "household_id"]  # VISIT_ORDER, nulls last


def _visit_run(decided: pl.DataFrame, causes: tuple[str, ...]) -> pl.DataFrame:
    """A partition's paying households as visits.csv lists them (``VISIT_ORDER``, nulls last), with the
    columns it reads: a sorted run, merged with the other partitions' by ``VISIT_KEY``."""
    return (decided.filter(pl.col("outcome") == "pay")
            .select(*VISIT_COLUMNS, *causes, "payout", "fee")
            .with_columns(pl.col("township").is_null().alias("_township_null"),
                          pl.col("village").is_null().alias("_village_null"))
            .sort(VISIT_KEY))


def _write_results(
    staging: Path, pack: Pack, decisions: Spill, visits: Spill, rejected: Path, root: Path,
) -> dict[str, bytes]:
    """The result files beside run.json and the workbook, from the decisions in household order a slice at
    a time; what the run stores to write them again (``fangpin report --run ID``) beyond its decisions."""
    causes = pack.cause_ids
    write_rejection_slices(staging / "rejections.csv", slices(pl.scan_parquet(rejected)))  # in file and row order
    empty = pl.DataFrame(schema=decisions.schema or {})
    decided, heads = CsvFile(staging / "decisions.csv"), CsvFile(staging / "households.csv", bom=True)
    try:
        for part in merged_parts(decisions, ["household_id"]):
            decided.write(decision_rows(part, pack.hash, causes))
            # who heads each household, for finding a household by name or ID number (the console's search)
            heads.write(household_rows(part.select(HOUSEHOLD_COLUMNS)))
    finally:
        decided.close(decision_rows(empty, pack.hash, causes))
        heads.close(household_rows(empty.select(HOUSEHOLD_COLUMNS)))
    labels = [(cause.id, cause.label) for cause in pack.causes]
    groups = pack.people_labels.groups
    listed = CsvFile(staging / "visits.csv", bom=True)
    try:
        for part in merged_parts(visits, VISIT_KEY):
            listed.write(visit_rows(part, labels, groups))
    finally:
        listed.close(visit_rows(empty, labels, groups))
    households = root / "households.parquet"
    merged(decisions, ["household_id"], HOUSEHOLD_COLUMNS).sink_parquet(
        households, compression="zstd", statistics=False, row_group_size=bulk.SLICE_ROWS)
    return {"rejections": rejected.read_bytes(), "households": households.read_bytes()}


def _ready_workbook() -> subprocess.Popen[bytes]:
    """The process that will write the workbook, started before the drop is read: its interpreter and
    imports (about half a second) are ready when the run's files are; it waits for their names on stdin and
    dies with this process (a worker killed mid-run leaves no writer behind)."""
    return subprocess.Popen([sys.executable, "-m", "fangpin.reports.workbook", "--stdin", str(os.getpid())],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _dismiss(process: subprocess.Popen[bytes]) -> None:
    """End a workbook process that was never given a workbook to write."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
        process.stdin = None
    process.kill()
    process.communicate()


def _start_workbook(
    staging: Path, run: dict[str, Any], shown: Shown, rejections: pl.DataFrame, rejected_rows: int,
    spare: list[subprocess.Popen[bytes]] | None = None,
) -> subprocess.Popen[bytes]:
    """The workbook is the slowest file to write (xlsxwriter is pure Python): write it in another process,
    on the other core, while this one stores the run; in the process waiting in ``spare``
    (``_ready_workbook``), taken from it, if there is one. It is given what the workbook shows of the
    decisions (``shown``: a sheet's rows at most, and sums, a few small files), never the decisions: its
    memory does not grow with the drop."""
    ready = spare.pop() if spare else None
    inputs = staging / ".report-inputs"
    inputs.mkdir()
    shown.write(inputs / "shown")
    # the rows its sheet shows (``rejections``: the first in file and row order) and how many there are
    # (``rejected_rows``): all of them were read and sorted again in its process, whose memory then grew with
    # the drop's defects
    rejections.head(shown.limit).write_parquet(inputs / "rejections.parquet",
                                               metadata={REJECTIONS_TOTAL: str(rejected_rows)})
    (inputs / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    arguments = [str(staging / "report.xlsx"), str(inputs / "run.json"), str(inputs / "shown"),
                 str(inputs / "rejections.parquet")]
    if ready is not None and ready.stdin is not None and ready.poll() is None:
        try:
            ready.stdin.write(json.dumps(arguments).encode() + b"\n")
            ready.stdin.close()
            ready.stdin = None  # closed: communicate() must not flush it
            return ready
        except OSError:  # it died meanwhile: a new one
            _dismiss(ready)
    elif ready is not None:
        _dismiss(ready)
    # the last argument: it dies with this process (a worker killed mid-run leaves no writer in the staging folder)
    command = [sys.executable, "-m", "fangpin.reports.workbook", *arguments, str(os.getpid())]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop_workbook(process: subprocess.Popen[bytes], staging: Path) -> None:
    process.kill()
    process.communicate()
    shutil.rmtree(staging / ".report-inputs", ignore_errors=True)


def _finish_workbook(process: subprocess.Popen[bytes], staging: Path) -> str | None:
    """Wait for the workbook; what went wrong (and no half-written report.xlsx left), or None."""
    try:
        _, stderr = process.communicate()
    finally:
        shutil.rmtree(staging / ".report-inputs", ignore_errors=True)
    if process.returncode == 0:
        return None
    (staging / "report.xlsx").unlink(missing_ok=True)
    detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"退出状态 {process.returncode}"]
    return f"写出 report.xlsx 失败: {detail[0]}"


@contextmanager
def staged(out_dir: Path, tag: str | None = None) -> Iterator[Path]:
    """Write into a hidden sibling folder; move it into place only if everything inside succeeded."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DropError(f"{out_dir}: 输出文件夹已存在且不是空的:请换一个输出文件夹,或先清空它")
    staging = out_dir.parent / f".{out_dir.name}{tag or '.partial-' + uuid.uuid4().hex[:6]}"
    private_dir(staging)  # owner-only, and any folder made for it: the files hold names and ID numbers
    try:
        yield staging
        private_tree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out_dir.exists():
        out_dir.rmdir()
    staging.rename(out_dir)


def _run_summary(
    run_id: str, request: ScreenRequest, pack: Pack, parsed: list[ParsedExport], unrecognised: list[str],
    hashes: dict[str, str], linked: Linked, totals: Totals, started: dt.datetime,
) -> dict[str, Any]:
    later = pl.concat([linked.rejections, *([linked.skipped] if linked.skipped is not None else [])],
                      how="vertical_relaxed").group_by("file", "reason").len()
    inputs = []
    for item in parsed:
        by_reason: dict[str, int] = {}
        for reason, count in item.outcomes.group_by("reason").len().iter_rows():
            by_reason[reason] = by_reason.get(reason, 0) + count
        for reason, count in later.filter(pl.col("file") == item.file).select("reason", "len").iter_rows():
            by_reason[reason] = by_reason.get(reason, 0) + count
        skipped = sum(count for reason, count in by_reason.items() if reason in SKIP_REASONS)
        rejected = sum(by_reason.values()) - skipped
        inputs.append({
            "file": item.file, "sha256": hashes[item.file], "department": item.department,
            "encoding": item.encoding, "header_row": item.header_row, "rows_read": item.rows_read,
            "used": item.rows_read - rejected - skipped, "rejected": rejected, "skipped": skipped,
            "by_reason": dict(sorted(by_reason.items())), "unknown_columns": list(item.extra_columns),
        })
    for name in unrecognised:
        inputs.append({"file": name, "sha256": hashes[name], "department": None, "encoding": None,
                       "header_row": None, "rows_read": 0, "used": 0, "rejected": 0, "skipped": 0, "by_reason": {},
                       "unknown_columns": [], "note": "不像任何部门的导出文件:已忽略"})
    totals_fen = {cause: totals.sums.get(cause, 0) for cause in (*pack.cause_ids, "payout", "fee")}
    outcomes = dict(sorted(totals.outcomes.items())) if totals.households else {}
    return {
        "run_id": run_id,
        "county": request.county,
        "year": request.year,
        "pack": {"id": pack.id, "version": pack.meta.version, "hash": pack.hash,
                 "causes": [{"id": cause.id, "label": cause.label} for cause in pack.causes],
                 "groups": [{"id": group, "label": label} for group, label in pack.people_labels.groups.items()],
                 "rules": rule_labels(pack)},
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "inputs": inputs,
        "unrecognised": unrecognised,
        "rows": {key: sum(item[k] for item in inputs) for key, k in
                 (("read", "rows_read"), ("used", "used"), ("rejected", "rejected"), ("skipped", "skipped"))},
        "totals": {"households": totals.households, "outcomes": outcomes,
                   **{key: fen_text(value) for key, value in totals_fen.items()}},
        "corrections": {
            "of_earlier_runs": linked.corrections,
            "within_this_drop": sum(linked.superseded.values()),
        },
    }


def rule_labels(pack: Pack) -> list[dict[str, str]]:
    """Each rule's name for people (``Pack.rule_names``: made of the pack's own Chinese, never a rule's
    ``description``), in the pack's order, as run.json keeps them."""
    return [{"id": rule_id, "label": label} for rule_id, label in pack.rule_names().items()]


def _already(run: Run) -> dict[str, Any]:
    return {"run_id": run.id, "county": run.county, "year": run.year, "pack": {"hash": run.pack_hash},
            "finished_at": run.finished_at.isoformat(), "counts": run.counts}


def _store(
    request: ScreenRequest, pack: Pack, run: dict[str, Any], drop_hash: str, started: dt.datetime,
    stored: Stored, clock: _Stopwatch, results: Callable[[], dict[str, bytes]],
) -> None:
    """The run, its decisions, events and payments in one transaction; ``results`` gives what the run's files
    are written again from, once they are written, last before the commit. The decisions, the ledger and
    the payments are read from disk and stored a slice (a part) at a time."""
    recorded = queries.now()
    ledger = stored.ledger.result()
    ledger_sha256 = _sha256(ledger)
    run["events"] = {"counted_now": stored.events, "sha256": ledger_sha256}
    clock.lap("storing: event ledger")
    totals = stored.totals
    try:
        with session_scope(request.database_url) as session:
            # the chains' locks, in their order, before anything is written: API checks and claims storing
            # into this county meanwhile wait for this run, and it for them (db.locks)
            queries.ensure_pack(session, pack)
            lock_chain(session, "decisions", request.county)
            session.flush()
            append_one(session, Run, request.county, dict(  # the runs are chained per county too
                id=run["run_id"], county=request.county, year=request.year, pack_hash=pack.hash, started_at=started,
                finished_at=recorded, drop_hash=drop_hash, inputs=run["inputs"],
                counts={"rows": run["rows"], "totals": run["totals"], "events": run["events"]},
                households=totals.households, payout=totals.sums.get("payout", 0), fee=totals.sums.get("fee", 0),
            ))
            constants: dict[str, object] = {"run_id": run["run_id"], "pack_hash": pack.hash, "recorded_at": recorded,
                                            "document": None, "layout": DECISION_LAYOUT}
            columns = [c for c in chained_columns(DecisionRecord) if c not in ("seq", *constants)]
            texts = decision_causes.text_columns(pack.cause_ids)
            rows = (part.with_columns(texts).select(columns)
                    for part in merged_parts(stored.decisions, ["household_id"]))
            appended = append_frames(session, DecisionRecord, request.county, rows, constants)
            clock.lap("storing: decisions")
            session.add(RunEvents(run_id=run["run_id"], county=request.county, year=request.year,
                                  events=stored.events, sha256=ledger_sha256, data=b"", recorded_at=recorded))
            session.flush()
            with ledger.open("rb") as handle:  # in parts: one part in a driver's buffer at a time
                for part, data in enumerate(iter(lambda: handle.read(LEDGER_PART_BYTES), b"")):
                    session.execute(insert(RunEventPart), {"run_id": run["run_id"], "part": part, "data": data})
            _store_payments(session, request, run["run_id"], stored, recorded, pack.cause_ids, appended)
            clock.lap("storing: payments")
            session.add(RunResults(run_id=run["run_id"], summary=run, **results()))
    except IntegrityError as exc:
        raise StorageError(
            "同时进行的另一次运行或已支付的理赔刚为其中一些农户赔付(同一已付基数的赔付已存在):"
            "本次运行没有保存任何内容,请重新运行,只赔付仍欠的部分"
        ) from exc
    except OperationalError as exc:
        if "locked" not in str(exc):
            raise
        raise StorageError("数据库正忙于本县的另一次运行:本次运行没有保存任何内容,请重新运行") from exc


def _ledger(events: Spill, pack: Pack, path: Path) -> Path:
    """The event ledger as one Parquet file at ``path``, its rows in the order of an unpartitioned run
    (``linking.ORDER_COLUMNS``: the sources' order, the ids seen once before the repeated ones, the drop's
    order). The events come by ranges of that order (``linking.AddedEvents``): each range is sorted and
    written in turn (a range a quarter of a partition, sorted beside what the run does meanwhile: deciding,
    writing); or, when the order does not fit one integer key, each partition is sorted and the sorted runs
    merged. One partition is held at a time. Row groups of ``SLICE_ROWS`` rows, whatever the partitions: the
    same rows give the same bytes (and sha256)."""
    columns = list(ledger_schema(pack))
    if events.ranged:
        rows = streamed({name: dtype for name, dtype in (events.schema or {}).items() if name in columns},
                        lambda: sorted_ranges(events, [ORDER_KEY], drop=True))
    else:
        order = list(ORDER_COLUMNS)
        runs = Spill(path.parent, f"{path.stem}-runs", events.count)
        for index in range(events.count):
            add_sorted(runs, index, events.read(index).select(*columns, *order).sort(order))
            events.drop(index)
        rows = merged(runs, order).select(columns)
    rows.sink_parquet(path, compression="lz4", statistics=False, row_group_size=bulk.SLICE_ROWS)
    return path


def _store_payments(
    session: Any, request: ScreenRequest, run_id: str, stored: Stored, recorded: dt.datetime,
    causes: tuple[str, ...], decisions: Appended,
) -> None:
    """``decisions``: where the run's decisions went in the chain (seq before them, and the id of the first
    when their ids follow their order). The decisions are read again in household order, a slice at a time: a
    slice's are seq before + 1 …, their ids first id + the same; only when the ids did not follow (another
    writer took some, PostgreSQL) are they read back (by the chain's unique index, not by a scan of every
    run's decisions). Their payments, in household and cause order, go to disk, and are chained and stored
    from there once all are made (the connection is then busy inserting)."""
    paid = [f"{cause}_paid_before" for cause in causes]
    constants: dict[str, object] = {"run_id": run_id, "recorded_at": recorded}
    columns = [c for c in chained_columns(Payment) if c not in ("seq", *constants)]
    made = Spill(stored.root, "payments", 1, hold=False)  # on disk: as many as the paying households
    seq = decisions.before
    for part in merged_parts(stored.decisions, ["household_id"], ["household_id", "payout", *causes, *paid]):
        first, seq = seq + 1, seq + part.height
        if decisions.first_id is not None:
            start = decisions.first_id + first - decisions.before - 1
            part = part.with_columns(pl.int_range(start, start + part.height, dtype=pl.Int64).alias("decision_id"))
        paying = part.filter(pl.col("payout") > 0)
        if paying.is_empty():
            continue
        if decisions.first_id is None:
            ids = pl.DataFrame(
                [tuple(row) for row in session.execute(
                    select(DecisionRecord.household_id, DecisionRecord.id)
                    .where(DecisionRecord.county == request.county, DecisionRecord.seq.between(first, seq),
                           DecisionRecord.run_id == run_id, DecisionRecord.payout > 0)
                )],
                schema={"household_id": pl.String, "decision_id": pl.Int64}, orient="row",
            )
            paying = paying.join(ids, on="household_id")
        payments = (
            paying
            .unpivot(index=["household_id", "decision_id"], on=list(causes), variable_name="cause",
                     value_name="amount")
            .filter(pl.col("amount") > 0)
            .join(
                paying.unpivot(index="household_id", on=paid, variable_name="cause", value_name="paid_before")
                .with_columns(pl.col("cause").str.replace("_paid_before", "", literal=True)),
                on=["household_id", "cause"],
            )
            .sort("household_id", "cause")
            .with_columns(pl.lit(request.county).alias("county"), pl.lit(request.year).alias("year"))
        )
        made.add(0, payments.select(columns))
    append_frames(session, Payment, request.county, made.chunks(0), constants)
