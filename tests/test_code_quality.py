"""ruff and mypy (strict on the engine and the money code) are part of the test command."""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "bench", "tools", "conftest.py"],
                            cwd=REPO, capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "src", "tools/fangpin_synth"], cwd=REPO,
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr
