"""Spill folders: private, removed after the run, and those of a run whose process was killed removed by the
next run (they hold names and ID numbers)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl

from fangpin.screening.spill import OWNER, PREFIX, Spill, spill_root, sweep


def test_a_spill_folder_is_private_and_gone_after_the_run(tmp_path: Path) -> None:
    with spill_root(tmp_path) as root:
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        spill = Spill(root, "rows", 2, hold=False)
        spill.add(1, pl.DataFrame({"id_number": ["130434199001011234"]}))
        assert spill.files(1) and not spill.empty(1) and spill.empty(0)
    assert not root.exists()


def test_the_folder_of_a_killed_run_is_removed_by_the_next_and_a_living_runs_is_kept(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with spill_root(tmp_path) as living:  # a run still going: another process's, kept
            started = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
            (living / OWNER).write_text(f"{child.pid} {started}")
            dead = tmp_path / f"{PREFIX}killed"
            dead.mkdir(mode=0o700)
            (dead / "members.arrow").write_bytes(b"names and ID numbers")
            (dead / OWNER).write_text("999999999 12345")  # no such process
            reused = tmp_path / f"{PREFIX}reused"
            reused.mkdir(mode=0o700)
            (reused / OWNER).write_text(f"{os.getpid()} 1")  # this pid, but a process that started at another time
            other = tmp_path / "fangpin-runs"  # not a spill folder
            other.mkdir()
            assert sorted(sweep(tmp_path)) == sorted([dead, reused])
            assert living.exists() and other.exists() and not dead.exists() and not reused.exists()
    finally:
        child.kill()
        child.wait()


def test_a_folder_without_owner_is_removed_only_once_a_day_old(tmp_path: Path) -> None:
    fresh = tmp_path / f"{PREFIX}fresh"
    old = tmp_path / f"{PREFIX}old"
    for folder in (fresh, old):
        folder.mkdir()
    os.utime(old, (0, 0))
    assert sweep(tmp_path) == [old]
    assert fresh.exists()


def test_the_spill_folder_setting_is_made_owner_only_when_missing_and_a_shared_one_left_as_it_is(
        tmp_path: Path) -> None:
    made = tmp_path / "spills" / "fangpin"
    with spill_root(made) as root:
        assert root.parent == made
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /var/tmp
    with spill_root(shared) as root:
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
