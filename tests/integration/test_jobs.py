"""Screening jobs as database records run by a worker process, on SQLite and PostgreSQL: one job per county
at a time, the rest queued in order; a worker killed with SIGKILL half-way through storing a run leaves no run
behind, its job is failed and its temporary files removed by the next worker to start, and the drop screened
again succeeds."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from fangpin.db.locks import lock_chain
from fangpin.db.models import JobRecord, Run
from fangpin.db.session import get_engine, session_scope
from fangpin.services import jobs
from tests.support import COUNTY, DEMO, OTHER_COUNTY


def _drop_copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "uploads" / name
    shutil.copytree(DEMO, folder)
    return folder


def _enqueue(database_url: str, tmp_path: Path, county: str = COUNTY, name: str = "drop") -> dict[str, Any]:
    drop = _drop_copy(tmp_path, name)
    return jobs.enqueue(database_url, county=county, year=2019, user="office",
                        files=sorted(path.name for path in drop.iterdir()), drop_dir=drop, runs_dir=tmp_path / "runs",
                        pack_dir=None, sources_dir=None)


def _row(database_url: str, job_id: str) -> JobRecord:
    with session_scope(database_url) as session:
        job = session.get(JobRecord, job_id)
        assert job is not None
        return job


def test_a_county_runs_one_job_at_a_time_and_other_counties_go_on(database_url: str, tmp_path: Path) -> None:
    first = _enqueue(database_url, tmp_path, name="a1")
    second = _enqueue(database_url, tmp_path, name="a2")
    other = _enqueue(database_url, tmp_path, OTHER_COUNTY, name="b1")
    assert [first["state"], second["state"], other["state"]] == ["queued"] * 3

    taken = jobs.claim(database_url, "worker-1")
    assert taken is not None and taken.id == first["id"]
    # the county's next job waits; another county's is taken by a second worker meanwhile
    taken_by_other = jobs.claim(database_url, "worker-2")
    assert taken_by_other is not None and taken_by_other.id == other["id"]
    assert jobs.claim(database_url, "worker-3") is None
    # even written by hand, a second running job of the county is refused by the database
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.execute(update(JobRecord).where(JobRecord.id == second["id"]).values(state="running"))
    with session_scope(database_url) as session:
        session.execute(update(JobRecord).where(JobRecord.id == first["id"]).values(state="done"))
    taken = jobs.claim(database_url, "worker-3")
    assert taken is not None and taken.id == second["id"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no row locks to skip
def test_a_job_being_claimed_holds_back_its_countys_later_jobs(database_url: str, tmp_path: Path) -> None:
    """Another worker is claiming the county's oldest queued job (its row locked, not yet running): a claim
    skips that county, rather than taking its next job and starting it before the oldest (seen in CI: two
    workers racing, the later job won)."""
    first = _enqueue(database_url, tmp_path, name="a1")
    second = _enqueue(database_url, tmp_path, name="a2")
    other = _enqueue(database_url, tmp_path, OTHER_COUNTY, name="b1")
    with session_scope(database_url) as claiming:  # the other worker, between its SELECT and its UPDATE
        locked = claiming.scalars(select(JobRecord).where(JobRecord.id == first["id"]).with_for_update()).one()
        taken = jobs.claim(database_url, "worker-2")
        assert taken is not None and taken.id == other["id"]
        assert jobs.claim(database_url, "worker-3") is None
        claiming.execute(update(JobRecord).where(JobRecord.id == locked.id)
                         .values(state="running", owner="worker-1"))
    with session_scope(database_url) as session:
        session.execute(update(JobRecord).where(JobRecord.id == first["id"]).values(state="done"))
    taken = jobs.claim(database_url, "worker-3")
    assert taken is not None and taken.id == second["id"]


def test_queued_jobs_of_a_county_run_one_after_another(database_url: str, tmp_path: Path) -> None:
    """Two workers, four jobs of one county and three of another: never two of a county at once, each county's
    jobs in the order they were queued."""
    running: dict[str, int] = {COUNTY: 0, OTHER_COUNTY: 0}
    most: dict[str, int] = {COUNTY: 0, OTHER_COUNTY: 0}
    order: list[str] = []
    guard = threading.Lock()

    def runner(job: JobRecord, _url: str, progress: Callable[[str, int, int], None]) -> tuple[str, bool, list[str]]:
        with guard:
            running[job.county] += 1
            most[job.county] = max(most[job.county], running[job.county])
            order.append(job.id)
        progress("reading", 1, 1)
        time.sleep(0.2)  # long enough for the other worker to try the same county
        with guard:
            running[job.county] -= 1
        return f"run-{job.id[:6]}", False, []

    queued = [_enqueue(database_url, tmp_path, COUNTY if index % 3 else OTHER_COUNTY, name=f"d{index}")["id"]
              for index in range(7)]
    workers = [jobs.Worker(database_url, poll_seconds=0.02, runner=runner) for _ in range(2)]
    for worker in workers:
        worker.start_thread()
    try:
        finished = [jobs.wait_for(database_url, job_id) for job_id in queued]
    finally:
        for worker in workers:
            worker.stop_thread()

    assert [job["state"] for job in finished] == ["done"] * 7
    assert most == {COUNTY: 1, OTHER_COUNTY: 1}
    by_county = {county: [job["id"] for job in finished if job["county"] == county] for county in running}
    for county, ids in by_county.items():
        assert [job_id for job_id in order if job_id in ids] == ids, county
    assert all(not Path(_row(database_url, job_id).drop_dir).exists() for job_id in queued)


@contextmanager
def _storing_blocked(database_url: str) -> Iterator[None]:
    """Hold the county's decisions-chain lock so that a run blocks on it when it starts storing (before it
    writes anything); claims and heartbeats go on. SQLite: the writers' file lock only (db.locks), not the
    database's write lock."""
    engine = get_engine(database_url)
    if engine.dialect.name == "sqlite":
        descriptor = os.open(f"{engine.url.database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.close(descriptor)
        return
    with session_scope(database_url) as session:
        lock_chain(session, "decisions", COUNTY)
        yield


def _worker(database_url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FANGPIN_DATABASE_URL": database_url, "FANGPIN_WORKERS": "1"}
    return subprocess.Popen([sys.executable, "-m", "fangpin", "worker", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait(condition: Callable[[], bool], what: str, process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker exited ({process.returncode}) before {what}: "
                                 f"{process.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waited two minutes for {what}")
        time.sleep(0.05)


def _runs(database_url: str) -> int:
    with session_scope(database_url) as session:
        return int(session.scalar(select(func.count()).select_from(Run)) or 0)


@pytest.mark.slow
def test_a_worker_killed_mid_run_leaves_a_failed_job_no_run_and_no_files(database_url: str, tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    job = _enqueue(database_url, tmp_path)
    drop = Path(_row(database_url, job["id"]).drop_dir)

    with _storing_blocked(database_url):
        worker = _worker(database_url)
        _wait(lambda: any(runs_dir.glob(f".*{jobs.PARTIAL_MARK}{job['id']}")),
              "the run to write its result files", worker)
        staging = next(runs_dir.glob(f".*{jobs.PARTIAL_MARK}{job['id']}"))
        assert _row(database_url, job["id"]).state == "running"
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=60)
    assert worker.returncode == -signal.SIGKILL

    # the killed worker's job is still "running", its upload and half-written results still on disk
    assert _row(database_url, job["id"]).state == "running"
    assert drop.is_dir() and staging.is_dir()
    assert _runs(database_url) == 0

    restarted = _worker(database_url, "--once")
    _, stderr = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, stderr
    assert f"marked failed 1 job(s) left running by a worker that stopped: {job['id']}" in stderr.replace("\n", "")
    failed = jobs.get(database_url, job["id"])
    assert failed is not None and failed["state"] == "failed" and failed["finished_at"] is not None
    assert "在完成前停止:本次运行没有保存任何内容" in failed["error"]
    assert not drop.exists() and not staging.exists()
    assert _runs(database_url) == 0 and not [path for path in runs_dir.iterdir()]

    again = _enqueue(database_url, tmp_path, name="again")
    rerun = _worker(database_url, "--once")
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    done = jobs.get(database_url, again["id"])
    assert done is not None and done["state"] == "done", done
    assert _runs(database_url) == 1
    assert (runs_dir / done["run_id"] / "decisions.csv").is_file()
    assert [path.name for path in runs_dir.iterdir()] == [done["run_id"]]


def _owned_by_a_dead_process(database_url: str, job_id: str) -> None:
    """Make the job's owner a process of this host that has exited (a worker killed mid-job)."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    with session_scope(database_url) as session:
        session.execute(update(JobRecord).where(JobRecord.id == job_id)
                        .values(owner=f"{socket.gethostname()}:{int(dead.stdout)}"))


def test_a_job_whose_worker_is_gone_reads_as_failed(database_url: str, tmp_path: Path) -> None:
    """The console asks about a job whose worker died (no worker restarted yet): the job is failed then and
    there, so its progress stream ends, and its upload is removed."""
    job = _enqueue(database_url, tmp_path)
    claimed = jobs.claim(database_url, "some-host-that-is-not-this-one:1")
    assert claimed is not None
    _owned_by_a_dead_process(database_url, job["id"])
    seen = jobs.get(database_url, job["id"])
    assert seen is not None and seen["state"] == "failed"
    assert not Path(claimed.drop_dir).exists()


def test_a_screening_job_checks_each_file_against_the_limit_its_upload_was_checked_with(
        database_url: str, tmp_path: Path) -> None:
    """The console checked the upload at ``max_upload_file_mb``; the job checks again with that limit (kept in
    the job), not with the larger one for a folder on disk: a file over it fails the job naming the file."""
    drop = _drop_copy(tmp_path, "limited")
    largest = max(drop.iterdir(), key=lambda path: path.stat().st_size)
    limit = largest.stat().st_size - 1
    job = jobs.enqueue(database_url, county=COUNTY, year=2019, user="office",
                       files=sorted(path.name for path in drop.iterdir()), drop_dir=drop,
                       runs_dir=tmp_path / "runs", pack_dir=None, sources_dir=None, max_file_bytes=limit)

    assert jobs.Worker(database_url).run_one()

    failed = jobs.get(database_url, job["id"])
    assert failed is not None and failed["state"] == "failed", failed
    assert largest.name in failed["error"] and f"上限 {limit} 字节" in failed["error"]
    assert _runs(database_url) == 0 and not drop.exists()


def test_a_screening_job_without_a_recorded_limit_uses_the_upload_setting(database_url: str, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGPIN_MAX_UPLOAD_FILE_MB", "0")  # no file passes: the job used the upload's setting
    job = _enqueue(database_url, tmp_path)

    assert jobs.Worker(database_url).run_one()

    failed = jobs.get(database_url, job["id"])
    assert failed is not None and failed["state"] == "failed"
    assert "max_upload_file_mb" in failed["error"] and _runs(database_url) == 0


def test_a_simulation_job_whose_worker_is_gone_reads_as_failed_in_chinese(database_url: str, tmp_path: Path) -> None:
    """Dead-worker recovery applies to simulations: the job is failed when it is looked at, with a message
    saying so in Chinese; a screening job of the county queued behind it then runs."""
    simulation = jobs.enqueue_simulation(database_url, county=COUNTY, year=2019, user="office", runs=["r1"],
                                         pack="handan-2020", fiscal_input=None, drafts_dir=tmp_path / "drafts",
                                         runs_dir=tmp_path / "runs")
    screening = _enqueue(database_url, tmp_path)
    claimed = jobs.claim(database_url, "some-host-that-is-not-this-one:1")
    assert claimed is not None and claimed.id == simulation["id"] and claimed.kind == "simulate"
    assert jobs.claim(database_url, "another-worker") is None  # one job of a county at a time, whatever its kind
    _owned_by_a_dead_process(database_url, simulation["id"])

    seen = jobs.get(database_url, simulation["id"])

    assert seen is not None and seen["state"] == "failed" and seen["kind"] == "simulate"
    assert "工作进程" in seen["error"] and "请重新提交模拟" in seen["error"]
    taken = jobs.claim(database_url, "another-worker")
    assert taken is not None and taken.id == screening["id"]
