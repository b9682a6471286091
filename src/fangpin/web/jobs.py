"""Screening from the browser: the uploaded drop is screened in a background thread by
``services.screening.screen``; its progress callback records each stage's progress, which the job page
follows (server-sent events, or polling).

The state lives in memory and is mirrored to a small JSON file per job (``<runs dir>/.console-jobs/``), so a
request that lands on another worker process of ``fangpin serve`` reads it too.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fangpin.errors import FangpinError
from fangpin.private import private_dir
from fangpin.services.screening import ScreenRequest, screen

log = logging.getLogger("fangpin.web")
STAGE_ORDER = ("upload", "hashing", "reading", "linking", "deciding", "writing", "storing", "report")
KEEP_JOB_FILES = dt.timedelta(days=7)


@dataclass
class Job:
    id: str
    county: str
    year: int
    user: str
    files: list[str]
    state: str = "running"  # running | done | failed
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: dict[str, list[str]] = field(default_factory=dict)  # the steps of a stage done so far
    current: str | None = None
    run_id: str | None = None
    already: bool = False
    error: str | None = None
    started_at: str = ""
    finished_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def jobs_dir(runs_dir: Path) -> Path:
    return runs_dir / ".console-jobs"


class Jobs:
    """The screening jobs of this process, and the files of every process's jobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[Job, Path]] = {}

    def start(self, request: ScreenRequest, *, user: str, files: list[str]) -> Job:
        job = Job(id=uuid.uuid4().hex, county=request.county, year=request.year, user=user, files=files,
                  started_at=dt.datetime.now(dt.UTC).isoformat())
        job.stages["upload"] = {"done": len(files), "total": len(files)}
        folder = private_dir(jobs_dir(request.runs_dir))  # and the runs folder, if made now: owner-only
        _forget_old(folder)
        with self._lock:
            self._jobs[job.id] = (job, folder)
        self._save(job)
        thread = threading.Thread(target=self._run, args=(job, request), name=f"screen-{job.id[:8]}", daemon=True)
        thread.start()
        return job

    def get(self, job_id: str, runs_dir: Path) -> dict[str, Any] | None:
        if not job_id.isalnum() or len(job_id) > 64:
            return None
        with self._lock:
            known = self._jobs.get(job_id)
            if known is not None:
                return known[0].to_dict()
        path = jobs_dir(runs_dir) / f"{job_id}.json"
        try:
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return loaded

    def _progress(self, job: Job, stage: str, done: int, total: int) -> None:
        """``screen`` reports a stage when (part of) it is finished: ``hashing`` 3 of 7 files, or a step
        within a stage as ``storing: decisions``. A stage is complete once a later one reports."""
        group, _, step = (part.strip() for part in stage.partition(":"))
        with self._lock:
            if group in STAGE_ORDER:
                for earlier in STAGE_ORDER[:STAGE_ORDER.index(group)]:
                    if earlier in job.stages:
                        job.stages[earlier]["done"] = job.stages[earlier]["total"]
            if step:
                job.stages.setdefault(group, {"done": 0, "total": 1})
                job.steps.setdefault(group, []).append(step)
            else:
                job.stages[group] = {"done": done, "total": total}
            job.current = group
        self._save(job)

    def _run(self, job: Job, request: ScreenRequest) -> None:
        try:
            result = screen(request, lambda stage, done, total: self._progress(job, stage, done, total))
            with self._lock:
                job.run_id = str(result.run["run_id"])
                job.already = result.already
            state, error = "done", None
        except FangpinError as exc:
            state, error = "failed", str(exc)
        except Exception as exc:  # the page must say the run failed, whatever failed
            log.exception("screening job %s failed", job.id)
            state, error = "failed", f"内部错误:{type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(request.drop, ignore_errors=True)
        with self._lock:
            job.state, job.error = state, error
            job.finished_at = dt.datetime.now(dt.UTC).isoformat()
            if state == "done":
                for entry in job.stages.values():
                    entry["done"] = entry["total"]
        self._save(job)

    def _save(self, job: Job) -> None:
        with self._lock:
            known = self._jobs.get(job.id)
            if known is None:
                return
            text = json.dumps(job.to_dict(), ensure_ascii=False)
            folder = known[1]
        target = folder / f"{job.id}.json"
        partial = folder / f".{job.id}.{threading.get_ident()}.tmp"
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, target)
        except OSError:  # the in-memory state still answers this process's requests
            log.warning("could not write the state of screening job %s", job.id, exc_info=True)


def _forget_old(folder: Path) -> None:
    limit = time.time() - KEEP_JOB_FILES.total_seconds()
    for path in folder.glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


def new_drop_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="fangpin-drop-"))


JOBS = Jobs()
