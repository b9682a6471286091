"""Faults: a screening process killed at any moment, and files that cannot be read at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


# A screening in a child process that kills itself (SIGKILL: no cleanup, no exception handler runs) the
# moment it reports the named stage. The stages are the service's progress stages, in order; "storing:
# payments" is reported inside the storing transaction, "storing: commit" just after it commits.
_KILLED_AT = """
import os, signal, sys
from pathlib import Path
from fangpin.services.screening import ScreenRequest, screen

def progress(stage, done, total):
    if stage == sys.argv[4]:
        os.kill(os.getpid(), signal.SIGKILL)

screen(ScreenRequest(drop=Path(sys.argv[1]), year=2019, county="130434", database_url=sys.argv[2],
                     runs_dir=Path(sys.argv[3])), progress)
"""


@pytest.mark.parametrize(("stage", "stored"), [
    ("deciding", False),  # decided in memory, nothing written yet
    ("storing: event ledger", False),  # files written, the storing transaction not begun
    ("storing: decisions", False),  # the run and its decisions flushed inside the open transaction
    ("storing: payments", False),  # everything flushed, not committed
    ("storing: commit", True),  # committed: the whole run
])
def test_a_screen_killed_at_any_stage_leaves_a_whole_run_or_nothing_and_runs_again(
    database_url: str, tmp_path: Path, stage: str, stored: bool
) -> None:
    drop = tmp_path / "drop"
    synth.generate_drop(drop, 3000, seed=7, formats="utf8")
    get_engine(database_url)
    killed = subprocess.run([sys.executable, "-c", _KILLED_AT, str(drop), database_url, str(tmp_path / "runs"),
                             stage], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # it did reach the stage

    runs, decisions, ledgers = _counts(database_url)
    if stored:
        assert (runs, ledgers) == (1, 1) and decisions > 2500
    else:
        assert (runs, decisions, ledgers) == (0, 0, 0)
    with session_scope(database_url) as session:
        assert verify_chains(session) == []
    env = {**os.environ, "FANGPIN_DATABASE_URL": database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs")}
    again = subprocess.run([sys.executable, "-m", "fangpin", "screen", str(drop), "--year", "2019", "--county",
                            "130434"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert _counts(database_url)[0] == 1  # a killed run left nothing in the way; a whole one is not stored twice


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
