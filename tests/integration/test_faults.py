"""Faults: a screening process killed at any moment, and files that cannot be read at all."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import fangpin_synth as synth
from fangpin.db.session import get_engine, session_scope
from fangpin.errors import FangpinError
from fangpin.services.audit import verify_chains
from fangpin.services.screening import ScreenRequest, screen
from tests.integration.drops import base_drop, settlement


def _counts(database_url: str) -> tuple[int, int, int]:
    with get_engine(database_url).connect() as connection:
        return tuple(  # type: ignore[return-value]
            int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("runs", "decisions", "run_events")
        )


@pytest.mark.parametrize("moment", [0.3, 0.6, 0.9])
def test_a_screen_killed_at_any_moment_leaves_a_whole_run_or_nothing_and_runs_again(
    database_url: str, tmp_path: Path, moment: float
) -> None:
    drop = tmp_path / "drop"
    synth.generate_drop(drop, 3000, seed=7, formats="utf8")
    get_engine(database_url)
    env = {**os.environ, "FANGPIN_DATABASE_URL": database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs")}
    command = [sys.executable, "-m", "fangpin", "screen", str(drop), "--year", "2019", "--county", "130434"]
    started = time.perf_counter()
    complete = subprocess.run(command, env=env, capture_output=True, timeout=300, check=True)
    duration = time.perf_counter() - started
    assert complete.returncode == 0
    # a second database gets the same drop, killed part of the way through
    with get_engine(database_url).begin() as connection:
        for table in ("payments", "chain_heads", "run_events", "decisions", "runs", "packs"):
            connection.execute(sa.text(f"DELETE FROM {table}"))

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(duration * moment * random.uniform(0.9, 1.1))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)

    runs, decisions, ledgers = _counts(database_url)
    assert (runs, ledgers) in ((0, 0), (1, 1))
    assert decisions == 0 if runs == 0 else decisions > 2500
    with session_scope(database_url) as session:
        assert verify_chains(session) == []
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert _counts(database_url)[0] == 1


def test_a_corrupt_xlsx_stops_the_run_naming_the_file(database_url: str, tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    (drop / "broken.xlsx").write_bytes(b"PK\x03\x04 this is not really a workbook")

    with pytest.raises(FangpinError, match=r"broken\.xlsx"):
        screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=database_url,
                             runs_dir=tmp_path / "runs"))

    assert _counts(database_url) == (0, 0, 0)


def test_a_csv_that_is_not_text_stops_the_run_naming_the_file(database_url: str, tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    (drop / "garbage.csv").write_bytes(bytes(range(256)) * 50)

    with pytest.raises(FangpinError, match=r"garbage\.csv"):
        screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=database_url,
                             runs_dir=tmp_path / "runs"))

    assert _counts(database_url) == (0, 0, 0)
