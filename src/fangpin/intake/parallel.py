"""Parse a drop's files side by side, one worker process per core.

Decoding GBK happens in Python's codec, which holds the interpreter lock: threads cannot decode two files
at once, processes can. Each worker (``python -m fangpin.intake.parallel``) parses one file and hands its
frames back as Arrow IPC files. Small drops are parsed in this process: a worker's start-up (~0.5 s) is
only worth paying for large files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

from fangpin.intake.errors import ExportError
from fangpin.intake.parse import ParsedExport, parse_export
from fangpin.intake.profiles import Profiles, load_profiles

WORKER_THRESHOLD_BYTES = 32 << 20  # a file this large is parsed in a worker process


def parse_all(
    paths: list[Path],
    profiles: Profiles,
    sources_dir: Path | None,
    workers: int,
    done: Callable[[int, int], None] = lambda _done, _total: None,
) -> list[ParsedExport]:
    """Every file parsed, in the order given; the first failing file's error is raised."""
    large = [path for path in paths if path.stat().st_size >= WORKER_THRESHOLD_BYTES]
    if workers < 2 or len(large) < 2:
        results = []
        for index, path in enumerate(paths):
            results.append(parse_export(path, profiles))
            done(index + 1, len(paths))
        return results
    parsed: dict[Path, ParsedExport] = {}
    with tempfile.TemporaryDirectory(prefix="fangpin-parse-") as scratch:
        queue = sorted(large, key=lambda path: -path.stat().st_size)
        running: list[tuple[Path, Path, subprocess.Popen[bytes]]] = []
        small = [path for path in paths if path not in large]
        while queue or running:
            while queue and len(running) < workers - (1 if small else 0):
                path = queue.pop(0)
                out = Path(scratch) / str(len(parsed) + len(running))
                command = [sys.executable, "-m", "fangpin.intake.parallel", str(path), str(out)]
                if sources_dir is not None:
                    command.append(str(sources_dir))
                running.append((path, out, subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                             stderr=subprocess.PIPE)))
            if small:  # this process parses the small files meanwhile
                path = small.pop(0)
                parsed[path] = parse_export(path, profiles)
                done(len(parsed), len(paths))
                continue
            path, out, process = running.pop(0)
            _, stderr = process.communicate()
            parsed[path] = _collect(path, out, process.returncode, stderr)
            done(len(parsed), len(paths))
    return [parsed[path] for path in paths]


def _collect(path: Path, out: Path, returncode: int, stderr: bytes) -> ParsedExport:
    error_file = out / "error.json"
    if error_file.exists():
        error = json.loads(error_file.read_text(encoding="utf-8"))
        raise ExportError(error["message"], file=error["file"], row=error.get("row"), field=error.get("field"))
    if returncode != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise ExportError(f"parsing failed in a worker process: {detail[0]}", file=path.name)
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    return ParsedExport(
        file=meta["file"], department=meta["department"], label=meta["label"], encoding=meta["encoding"],
        header_row=meta["header_row"], rows_read=meta["rows_read"], rows=pl.read_ipc(out / "rows.arrow"),
        outcomes=pl.read_ipc(out / "outcomes.arrow"), headers=meta["headers"],
        extra_columns=tuple(meta["extra_columns"]),
    )


def _work(path: Path, out: Path, sources_dir: Path | None) -> None:
    out.mkdir(parents=True)
    try:
        parsed = parse_export(path, load_profiles(sources_dir))
    except ExportError as exc:
        (out / "error.json").write_text(json.dumps(
            {"message": exc.reason, "file": exc.file, "row": exc.row, "field": exc.field, "type": type(exc).__name__},
            ensure_ascii=False), encoding="utf-8")
        return
    parsed.rows.write_ipc(out / "rows.arrow")
    parsed.outcomes.write_ipc(out / "outcomes.arrow")
    meta = {"file": parsed.file, "department": parsed.department, "label": parsed.label,
            "encoding": parsed.encoding, "header_row": parsed.header_row, "rows_read": parsed.rows_read,
            "headers": dict(parsed.headers), "extra_columns": list(parsed.extra_columns)}
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":  # python -m fangpin.intake.parallel FILE OUT_DIR [SOURCES_DIR]
    _work(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
