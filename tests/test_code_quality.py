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


LONG = 320  # a module over ~300 lines is split, or its docstring says why it is not


def test_every_long_module_says_in_its_docstring_why_it_is_long() -> None:
    import ast

    unexplained = []
    for path in sorted([*(REPO / "src").rglob("*.py"), *(REPO / "tools").rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONG and "migrations" not in path.parts:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if "Length:" not in docstring:
                unexplained.append(f"{path.relative_to(REPO)} ({text.count(chr(10))} lines)")

    assert not unexplained, "modules over ~300 lines with no 'Length:' reason in their docstring: " + ", ".join(
        unexplained)
