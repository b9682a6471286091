"""Parse a drop's files side by side, and every xlsx in a process of its own under memory and time limits.

Decoding GBK happens in Python's codec, which holds the interpreter lock: threads cannot decode two files
at once, processes can. Each worker (``python -m fangpin.intake.parallel``) parses one file and hands its
frames back as Arrow IPC files. Small CSVs are parsed in this process: a worker's start-up (~0.5 s) is
only worth paying for large files.

An xlsx is untrusted input for a native reader (calamine) that aborts the whole process when it cannot
allocate: every xlsx is read in a worker whose address space is capped (``RLIMIT_AS``) and which is killed
after ``parse_seconds``; a worker that dies names its file and the limit, and this process goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fangpin.intake.errors import ExportError, MissingColumnError, UnreadableFileError, UnrecognisedFileError
from fangpin.intake.guard import FileLimitError, FileLimits, is_xlsx
from fangpin.intake.parse import ParsedExport, RowSink, parse_export
from fangpin.intake.profiles import Profiles, load_profiles

WORKER_THRESHOLD_BYTES = 32 << 20  # a file this large is parsed in a worker process
DropSink = Callable[[str, str, pl.DataFrame], None]  # file, department, a chunk of its valid rows


@dataclass
class ParsedDrop:
    """The files read, in the order given, and the xlsx files whose header no department has."""

    exports: list[ParsedExport]
    unrecognised: list[UnrecognisedFileError] = field(default_factory=list)


def parse_all(
    paths: list[Path],
    profiles: Profiles,
    sources_dir: Path | None,
    workers: int,
    done: Callable[[int, int], None] = lambda _done, _total: None,
    limits: FileLimits | None = None,
    sink: DropSink | None = None,
) -> ParsedDrop:
    """Every file parsed, in the order given; the first failing file's error is raised. An xlsx is always
    read in a worker, so it may turn out unrecognised here (CSVs were identified by the caller).

    ``sink``: the valid rows are handed to it chunk by chunk (file, department, rows), each file's in its
    order, instead of being kept (``parse_export``); the files may be handed on in any order (a worker's
    file when it is done). A worker writes each chunk to its own file, read back one at a time."""
    limits = limits or FileLimits()
    xlsx = [path for path in paths if is_xlsx(path)]
    large = [path for path in paths if not is_xlsx(path) and path.stat().st_size >= WORKER_THRESHOLD_BYTES]
    if workers < 2 or len(large) < 2:
        large = []
    outside = set(xlsx) | set(large)
    if not outside:
        results = []
        for index, path in enumerate(paths):
            results.append(parse_export(path, profiles, sink=_for_file(sink, path)))
            done(index + 1, len(paths))
        return ParsedDrop(results)
    parsed: dict[Path, ParsedExport | None] = {}
    unrecognised: list[UnrecognisedFileError] = []
    with tempfile.TemporaryDirectory(prefix="fangpin-parse-") as scratch:
        queue = sorted(outside, key=lambda path: -path.stat().st_size)
        running: list[tuple[Path, Path, float, subprocess.Popen[bytes]]] = []
        small = [path for path in paths if path not in outside]
        try:
            while queue or running:
                while queue and len(running) < max(1, workers - (1 if small else 0)):
                    path = queue.pop(0)
                    out = Path(scratch) / str(len(parsed) + len(running))
                    command = [sys.executable, "-m", "fangpin.intake.parallel", str(path), str(out),
                               str(limits.parse_memory_bytes if is_xlsx(path) else 0)]
                    if sources_dir is not None:
                        command.append(str(sources_dir))
                    running.append((path, out, time.monotonic(), subprocess.Popen(
                        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
                if small:  # this process parses the small files meanwhile
                    path = small.pop(0)
                    parsed[path] = parse_export(path, profiles, sink=_for_file(sink, path))
                    done(len(parsed), len(paths))
                    continue
                path, out, started, process = running.pop(0)
                try:
                    _, stderr = process.communicate(
                        timeout=max(0.1, started + limits.parse_seconds - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate()
                    raise FileLimitError(f"读取用时超过上限 {limits.parse_seconds:g} 秒(设置项 parse_seconds):"
                                         "请拆分文件或另存为 CSV 后重新上传", file=path.name) from None
                try:
                    parsed[path] = _collect(path, out, process.returncode, stderr, limits, sink)
                except UnrecognisedFileError as error:
                    parsed[path] = None
                    unrecognised.append(error)
                done(len(parsed), len(paths))
        finally:
            for _, _, _, process in running:  # a file failed: the others are not waited for
                process.kill()
                process.communicate()
    order = {path.name: index for index, path in enumerate(paths)}
    return ParsedDrop([found for path in paths if (found := parsed[path]) is not None],
                      sorted(unrecognised, key=lambda error: order[error.file]))


def _for_file(sink: DropSink | None, path: Path) -> RowSink | None:
    if sink is None:
        return None
    return lambda department, rows: sink(path.name, department, rows)


def _collect(path: Path, out: Path, returncode: int, stderr: bytes, limits: FileLimits,
             sink: DropSink | None = None) -> ParsedExport:
    error_file = out / "error.json"
    if error_file.exists():
        error = json.loads(error_file.read_text(encoding="utf-8"))
        if error.get("type") == "UnrecognisedFileError":
            raise UnrecognisedFileError(file=error["file"], first_rows=error.get("first_rows") or ())
        if error.get("type") == "MissingColumnError":
            raise MissingColumnError(file=error["file"], department=error["department"],
                                     missing=[tuple(pair) for pair in error["missing"]])
        kind = UnreadableFileError if error.get("type") == "UnreadableFileError" else ExportError
        raise kind(error["message"], file=error["file"], row=error.get("row"), field=error.get("field"))
    if returncode != 0:
        text = stderr.decode(errors="replace")
        if returncode < 0 or "memory allocation" in text or "MemoryError" in text:
            how = (f"被信号 {signal.Signals(-returncode).name} 终止" if returncode < 0
                   else f"退出状态 {returncode}")
            raise FileLimitError(f"读取进程中止({how}): 此文件需要的内存超过上限 "
                                 f"{limits.parse_memory_bytes >> 20} MiB(设置项 parse_memory_mb),或文件已损坏:"
                                 "请拆分文件或另存为 CSV 后重新上传", file=path.name)
        detail = text.strip().splitlines()[-1:] or ["无详细信息"]
        raise ExportError(f"读取进程出错: {detail[0]}", file=path.name)
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    chunks = [out / f"rows-{index:06d}.arrow" for index in range(meta["chunks"])]
    empty = pl.read_ipc(out / "rows.arrow")  # the schema
    if sink is None:
        rows = pl.concat([empty, *(pl.read_ipc(chunk) for chunk in chunks)])
    else:
        rows = empty
        for chunk in chunks:  # one chunk in memory at a time
            sink(meta["file"], meta["department"], pl.read_ipc(chunk))
            chunk.unlink()
    return ParsedExport(
        file=meta["file"], department=meta["department"], label=meta["label"], encoding=meta["encoding"],
        header_row=meta["header_row"], rows_read=meta["rows_read"], rows=rows,
        outcomes=pl.read_ipc(out / "outcomes.arrow"), headers=meta["headers"],
        extra_columns=tuple(meta["extra_columns"]),
    )


def _work(path: Path, out: Path, memory: int, sources_dir: Path | None) -> None:
    if memory > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    out.mkdir(parents=True)
    chunks = 0

    def spill(_department: str, rows: pl.DataFrame) -> None:  # each chunk's rows to a file of its own
        nonlocal chunks
        rows.write_ipc(out / f"rows-{chunks:06d}.arrow")
        chunks += 1

    try:
        parsed = parse_export(path, load_profiles(sources_dir), sink=spill)
    except ExportError as exc:
        error: dict[str, object] = {"message": exc.reason, "file": exc.file, "row": exc.row, "field": exc.field,
                                    "type": type(exc).__name__}
        if isinstance(exc, UnrecognisedFileError):
            error["first_rows"] = [list(row) for row in exc.first_rows]
        if isinstance(exc, MissingColumnError):
            error["department"] = exc.department
            error["missing"] = [list(pair) for pair in exc.missing]
        (out / "error.json").write_text(json.dumps(error, ensure_ascii=False), encoding="utf-8")
        return
    parsed.rows.write_ipc(out / "rows.arrow")  # empty: its schema
    parsed.outcomes.write_ipc(out / "outcomes.arrow")
    meta = {"file": parsed.file, "department": parsed.department, "label": parsed.label,
            "encoding": parsed.encoding, "header_row": parsed.header_row, "rows_read": parsed.rows_read,
            "headers": dict(parsed.headers), "extra_columns": list(parsed.extra_columns), "chunks": chunks}
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":  # python -m fangpin.intake.parallel FILE OUT_DIR MEMORY_BYTES [SOURCES_DIR]
    _work(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]) if len(sys.argv) > 4 else None)
