"""Jobs as database records, and the worker process that runs them (docs/operations.md, "Jobs").

The console queues a screening (``enqueue``): a row of ``jobs`` of kind ``screen`` in state ``queued``
naming the upload's temporary folder; or a policy simulation (``enqueue_simulation``, kind ``simulate``,
whose impact report is kept in the job's ``result``). A worker (``fangpin worker``, or the one ``fangpin
serve`` starts beside the web processes) claims the oldest queued job of a county that has no job running,
runs it (``services.screening.screen``, or ``services.simulate.simulate_job``), writes its progress and a
heartbeat every few seconds, and marks it ``done`` or ``failed``; the upload's folder is removed either way.
One job runs per county at a time, whatever its kind: a partial unique index on ``jobs(county) WHERE state =
'running'`` refuses a second, whatever several workers do at once.

A worker that dies (kill -9, a crash, the machine rebooted) leaves its job ``running``. The next worker to
start, and every worker now and then, marks such jobs ``failed`` and removes their temporary files: those
whose owner is a process of this machine that no longer exists, or whose heartbeat is older than
``stale_after``. The run itself is one transaction (``services.screening``): a job killed half-way stored
nothing, and running the drop again succeeds.

Why not a job library: the queue must live in fangpin's own database, SQLite or PostgreSQL. procrastinate
is PostgreSQL only; dramatiq, rq and celery need a broker (Redis, RabbitMQ); huey's SQL storage needs peewee
(a second ORM and connection setup) and has no one-per-county rule nor recovery of a dead worker's job by
its heartbeat. The queue here is ~200 lines on SQLAlchemy with the claim done by the database.

Length: over 320 lines because queueing, claiming, heartbeats and recovery of a job must agree on one set
of state transitions on both databases; split, each part would restate them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased

from fangpin.db.models import JobRecord
from fangpin.db.session import get_engine, session_scope
from fangpin.errors import FangpinError

log = logging.getLogger("fangpin.jobs")
STAGE_ORDER = ("upload", "hashing", "reading", "linking", "deciding", "writing", "storing", "report")
ACTIVE = ("queued", "running")
HEARTBEAT_SECONDS = 2.0
STALE_AFTER = dt.timedelta(minutes=10)
PID_REUSED_AFTER = dt.timedelta(hours=6)  # no heartbeat for this long: the live process is not the worker
PARTIAL_MARK = ".partial-job"  # staging folders of a job's run: <runs dir>/.<run id>.partial-job<job id>
KINDS = ("screen", "simulate")
ABANDONED = {  # what a job's page says when its worker died
    "screen": "处理此任务的后台进程({owner})在完成前停止:本次运行没有保存任何内容,请重新上传这批文件进行筛查",
    "simulate": "运行这次模拟的工作进程({owner})在完成前停止了:模拟不保存任何判定,请重新提交模拟",
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes: they were stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


def view(job: JobRecord) -> dict[str, Any]:
    """A job as the console shows it (the job page, the polling answer and every server-sent event)."""
    progress = job.progress or {}
    params = job.params or {}
    started, finished = _aware(job.started_at), _aware(job.finished_at)
    return {
        "id": job.id, "kind": job.kind or "screen", "runs": list(params.get("runs", [])),
        "pack": params.get("pack"), "fiscal_input": params.get("fiscal_input"), "county": job.county,
        "year": job.year, "user": job.user_name, "files": list(job.files),
        "state": job.state, "stages": progress.get("stages", {}), "steps": progress.get("steps", {}),
        "current": progress.get("current"), "run_id": job.run_id, "already": bool(job.already),
        "error": job.error, "warnings": progress.get("warnings", []),
        "queued_at": _aware(job.created_at).isoformat(),  # type: ignore[union-attr]
        "started_at": (started or _aware(job.created_at)).isoformat(),  # type: ignore[union-attr]
        "finished_at": finished.isoformat() if finished else None,
    }


def new_drop_folder() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="fangpin-drop-"))


def enqueue(database_url: str, *, county: str, year: int, user: str, files: list[str], drop_dir: Path,
            runs_dir: Path, pack_dir: Path | None, sources_dir: Path | None,
            max_file_bytes: int | None = None) -> dict[str, Any]:
    """Queue a screening of the drop in ``drop_dir`` (which the job now owns: it is removed when the job ends).
    ``max_file_bytes``: the per-file limit the upload was checked with; the job checks each file against it
    again (else against the settings' ``max_upload_file_mb``), with the settings' other limits on files."""
    job = JobRecord(
        id=uuid.uuid4().hex, kind="screen", county=county, year=year, state="queued", user_name=user, files=files,
        drop_dir=str(drop_dir), runs_dir=str(Path(runs_dir).resolve()),
        pack_dir=str(pack_dir) if pack_dir else None, sources_dir=str(sources_dir) if sources_dir else None,
        params={"max_file_bytes": max_file_bytes} if max_file_bytes else None,
        progress={"stages": {"upload": {"done": len(files), "total": len(files)}}, "steps": {}, "current": None},
        already=False, created_at=now(),
    )
    return _add(database_url, job)


def enqueue_simulation(database_url: str, *, county: str, year: int, user: str, runs: list[str], pack: str,
                       fiscal_input: str | None, drafts_dir: Path, runs_dir: Path) -> dict[str, Any]:
    """Queue a simulation of ``runs`` (of ``county`` and ``year``) under ``pack`` (a shipped pack's id or a
    stored draft's hash in ``drafts_dir``); the worker runs ``services.simulate.simulate_job``."""
    job = JobRecord(
        id=uuid.uuid4().hex, kind="simulate", county=county, year=year, state="queued", user_name=user, files=[],
        drop_dir="", runs_dir=str(Path(runs_dir).resolve()), pack_dir=None, sources_dir=None,
        params={"runs": list(runs), "pack": pack, "fiscal_input": fiscal_input,
                "drafts_dir": str(Path(drafts_dir).resolve())},
        progress={"stages": {"replay": {"done": 0, "total": len(runs)}}, "steps": {}, "current": None},
        already=False, created_at=now(),
    )
    return _add(database_url, job)


def result_of(database_url: str, job_id: str) -> dict[str, Any] | None:
    """A finished simulation's impact report (None while it runs, or for a screening)."""
    with session_scope(database_url) as session:
        job = session.get(JobRecord, job_id)
        return dict(job.result) if job is not None and job.result is not None else None


def _add(database_url: str, job: JobRecord) -> dict[str, Any]:
    with session_scope(database_url) as session:
        session.add(job)
        session.flush()
        return view(job)


def get(database_url: str, job_id: str, *, stale_after: dt.timedelta = STALE_AFTER) -> dict[str, Any] | None:
    """The job's state; a job whose worker is gone is failed first (so its page and progress stream end)."""
    if not job_id.isalnum() or len(job_id) > 64:
        return None
    with session_scope(database_url) as session:
        job = session.get(JobRecord, job_id)
        if job is None:
            return None
        if not (job.state == "running" and _abandoned(job, now(), stale_after)):
            return view(job)
    fail_abandoned(database_url, stale_after=stale_after)
    with session_scope(database_url) as session:
        job = session.get(JobRecord, job_id)
        return view(job) if job is not None else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _abandoned(job: JobRecord, moment: dt.datetime, stale_after: dt.timedelta) -> bool:
    """A worker process of this machine is gone when its pid is (a heartbeat can be late while SQLite's write
    lock is held by a long run; a pid taken again by another process is caught by ``PID_REUSED_AFTER``).
    A worker elsewhere, or a worker thread, is gone when its heartbeat is older than ``stale_after``."""
    beat = _aware(job.heartbeat_at) or _aware(job.started_at)
    host, _, pid = (job.owner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _pid_alive(int(pid)) or beat is None or moment - beat > PID_REUSED_AFTER
    return beat is None or moment - beat > stale_after


def remove_temporary_files(job: JobRecord) -> None:
    """The upload's folder and any half-written result folder of the job's run."""
    if job.drop_dir:
        shutil.rmtree(job.drop_dir, ignore_errors=True)
    runs_dir = Path(job.runs_dir)
    if runs_dir.is_dir():
        for partial in runs_dir.glob(f".*{PARTIAL_MARK}{job.id}"):
            shutil.rmtree(partial, ignore_errors=True)


def fail_abandoned(database_url: str, *, stale_after: dt.timedelta = STALE_AFTER) -> list[str]:
    """Mark failed every running job whose worker is gone; remove its temporary files. The ids failed."""
    moment = now()
    failed: list[JobRecord] = []
    with session_scope(database_url) as session:
        for job in session.scalars(select(JobRecord).where(JobRecord.state == "running")):
            if not _abandoned(job, moment, stale_after):
                continue
            claimed = session.execute(
                update(JobRecord).where(JobRecord.id == job.id, JobRecord.state == "running",
                                        JobRecord.owner == job.owner)
                .values(state="failed", finished_at=moment,
                        error=ABANDONED.get(job.kind, ABANDONED["screen"]).format(owner=job.owner))
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                failed.append(job)
    for job in failed:
        remove_temporary_files(job)
        log.warning("%s job %s (county %s) was left running by %s: marked failed", job.kind, job.id, job.county,
                    job.owner)
    return [job.id for job in failed]


def claim(database_url: str, owner: str) -> JobRecord | None:
    """Take the oldest queued job of a county with no job running, or None. PostgreSQL skips rows another
    worker is claiming (FOR UPDATE SKIP LOCKED); on SQLite the UPDATE ... WHERE state = 'queued' is atomic.
    Either way the unique index on running jobs per county refuses a second running job of a county.

    Only a county's oldest queued job is a candidate: skipping the one another worker is claiming must not
    hand out the county's next job instead (both workers would then race to start one each, and the later
    job could win: a county's jobs run in the order they were queued)."""
    engine = get_engine(database_url)
    postgres = engine.dialect.name == "postgresql"
    older = aliased(JobRecord)
    oldest_of_county = ~exists().where(
        older.county == JobRecord.county, older.state == "queued",
        or_(older.created_at < JobRecord.created_at,
            and_(older.created_at == JobRecord.created_at, older.id < JobRecord.id)))
    for _ in range(20):
        try:
            with session_scope(database_url) as session:
                busy = select(JobRecord.county).where(JobRecord.state == "running")
                query = (select(JobRecord).where(JobRecord.state == "queued", JobRecord.county.not_in(busy),
                                                 oldest_of_county)
                         .order_by(JobRecord.created_at, JobRecord.id).limit(1))
                if postgres:
                    query = query.with_for_update(skip_locked=True)
                job = session.scalars(query).first()
                if job is None:
                    return None
                moment = now()
                taken = session.execute(
                    update(JobRecord).where(JobRecord.id == job.id, JobRecord.state == "queued")
                    .values(state="running", owner=owner, started_at=moment, heartbeat_at=moment)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                session.flush()
                session.refresh(job)
                return job
        except IntegrityError:  # another worker started a job of this county meanwhile: look again
            continue
    return None


@dataclass
class _Progress:
    """A running job's progress, kept in memory by the screening thread and written by the heartbeat thread:
    on SQLite, writing it from the screening thread while it holds the write lock would wait on itself."""

    stages: dict[str, dict[str, int]]
    steps: dict[str, list[str]] = field(default_factory=dict)
    current: str | None = None
    warnings: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0

    def report(self, stage: str, done: int, total: int) -> None:
        """``screen`` reports a stage when (part of) it is finished: ``hashing`` 3 of 7 files, or a step
        within a stage as ``storing: decisions``. A stage is complete once a later one reports."""
        group, _, step = (part.strip() for part in stage.partition(":"))
        with self.lock:
            if group in STAGE_ORDER:
                for earlier in STAGE_ORDER[:STAGE_ORDER.index(group)]:
                    if earlier in self.stages:
                        self.stages[earlier]["done"] = self.stages[earlier]["total"]
            if step:
                self.stages.setdefault(group, {"done": 0, "total": 1})
                self.steps.setdefault(group, []).append(step)
            else:
                self.stages[group] = {"done": done, "total": total}
            self.current = group
            self.version += 1

    def complete(self) -> None:
        with self.lock:
            for entry in self.stages.values():
                entry["done"] = entry["total"]

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {"stages": {k: dict(v) for k, v in self.stages.items()},
                    "steps": {k: list(v) for k, v in self.steps.items()}, "current": self.current,
                    "warnings": list(self.warnings)}


Runner = Callable[[JobRecord, str, Callable[[str, int, int], None]], tuple[str | None, bool, list[str]]]
Simulator = Callable[[JobRecord, str, Callable[[str, int, int], None]], dict[str, Any]]  # the impact report


def screen_job(job: JobRecord, database_url: str,
               progress: Callable[[str, int, int], None]) -> tuple[str | None, bool, list[str]]:
    """Run the job's screening: its run id, whether the drop was already screened, and any warnings."""
    import dataclasses

    from fangpin.config import get_settings
    from fangpin.services.screening import ScreenRequest, file_limits, screen

    settings = get_settings()
    limits = file_limits(settings)  # the upload's per-file limit, not the larger one for a folder on disk:
    max_file_bytes = (job.params or {}).get("max_file_bytes") or settings.max_upload_file_mb << 20
    limits = dataclasses.replace(limits, max_file_bytes=int(max_file_bytes))
    request = ScreenRequest(drop=Path(job.drop_dir), year=job.year, county=job.county, database_url=database_url,
                            pack_dir=Path(job.pack_dir) if job.pack_dir else None, runs_dir=Path(job.runs_dir),
                            sources_dir=Path(job.sources_dir) if job.sources_dir else None,
                            workers=settings.workers, staging_tag=f"{PARTIAL_MARK}{job.id}", limits=limits)
    result = screen(request, progress)
    return str(result.run["run_id"]), result.already, list(result.warnings)


def simulate_job(job: JobRecord, database_url: str, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    from fangpin.services.simulate import simulate_job as run

    return run(job, database_url, progress)


class Worker:
    """Claims and runs jobs (screenings and simulations) one after another until ``stop`` is set."""

    def __init__(self, database_url: str, *, poll_seconds: float = 1.0, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 stale_after: dt.timedelta = STALE_AFTER, runner: Runner = screen_job,
                 simulator: Simulator = simulate_job) -> None:
        self.database_url = database_url
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_after = stale_after
        self.runner = runner
        self.simulator = simulator
        self.stop = threading.Event()
        self.owner = this_owner()
        self._thread: threading.Thread | None = None

    def recover(self) -> list[str]:
        return fail_abandoned(self.database_url, stale_after=self.stale_after)

    def run_forever(self) -> None:
        self.recover()
        checked = now()
        while not self.stop.is_set():
            try:
                if now() - checked > dt.timedelta(seconds=60):
                    self.recover()
                    checked = now()
                worked = self.run_one()
            except OperationalError as exc:  # the database is down: wait for it
                log.warning("the job queue's database is unavailable: %s", str(exc).splitlines()[0])
                worked = False
            if not worked:
                self.stop.wait(self.poll_seconds)

    def start_thread(self) -> threading.Thread:
        """Run in a thread of this process (tests, and a single-process console)."""
        self.owner = f"{this_owner()}:{uuid.uuid4().hex[:8]}"  # not a pid: only its heartbeat tells it is alive
        self._thread = threading.Thread(target=self.run_forever, name="fangpin-worker", daemon=True)
        self._thread.start()
        return self._thread

    def stop_thread(self, timeout: float = 60) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_one(self) -> bool:
        """Claim and run one job; False when none is waiting."""
        job = claim(self.database_url, self.owner)
        if job is None:
            return False
        progress = _Progress(stages=dict(job.progress.get("stages", {})))
        beating = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, progress, beating), daemon=True,
                                name=f"heartbeat-{job.id[:8]}")
        beat.start()
        run_id: str | None = None
        already = False
        result: dict[str, Any] | None = None
        try:
            if job.kind == "simulate":
                result = self.simulator(job, self.database_url, progress.report)
            else:
                run_id, already, warnings = self.runner(job, self.database_url, progress.report)
                progress.warnings.extend(warnings)
            progress.complete()
            state, error = "done", None
        except FangpinError as exc:
            state, error = "failed", str(exc)
        except Exception as exc:  # the page must say the run failed, whatever failed
            log.exception("%s job %s failed", job.kind, job.id)
            state, error = "failed", f"内部错误:{type(exc).__name__}: {exc}"
        finally:
            beating.set()
            beat.join()
            remove_temporary_files(job)
        self._finish(job.id, state, error, run_id, already, progress, result)
        return True

    def _finish(self, job_id: str, state: str, error: str | None, run_id: str | None, already: bool,
                progress: _Progress, result: dict[str, Any] | None = None) -> None:
        for attempt in range(30):  # the database may be restarting: the job's end must still be recorded
            try:
                with session_scope(self.database_url) as session:
                    session.execute(update(JobRecord).where(JobRecord.id == job_id, JobRecord.owner == self.owner)
                                    .values(state=state, error=error, run_id=run_id, already=already,
                                            progress=progress.as_json(), result=result, finished_at=now(),
                                            heartbeat_at=now()))
                return
            except OperationalError:
                log.warning("could not record the end of job %s (attempt %d)", job_id, attempt + 1)
                self.stop.wait(min(2.0, 0.1 * (attempt + 1)))
        log.error("gave up recording the end of job %s: the next worker start marks it failed", job_id)

    def _heartbeat(self, job_id: str, progress: _Progress, done: threading.Event) -> None:
        """Every half second the progress if it changed, and at least every ``heartbeat_seconds`` the time."""
        written, beaten = -1, 0.0
        while not done.wait(0.5):
            version, moment = progress.version, time.monotonic()
            if version == written and moment - beaten < self.heartbeat_seconds:
                continue
            try:
                with session_scope(self.database_url) as session:
                    session.execute(update(JobRecord).where(JobRecord.id == job_id, JobRecord.owner == self.owner)
                                    .values(heartbeat_at=now(), progress=progress.as_json()))
                written, beaten = version, moment
            except OperationalError as exc:
                log.warning("heartbeat of job %s not written: %s", job_id, str(exc).splitlines()[0])


def wait_for(database_url: str, job_id: str, *, timeout: float = 120.0) -> dict[str, Any]:
    """The job once it is done or failed (tests and scripts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get(database_url, job_id)
        if job is None:
            raise FangpinError(f"no job {job_id}")
        if job["state"] not in ACTIVE:
            return job
        time.sleep(0.1)
    raise FangpinError(f"job {job_id} did not finish in {timeout:.0f} s")
