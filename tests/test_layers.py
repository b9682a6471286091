"""The package's layers hold: the import-linter contracts of pyproject.toml (``[tool.importlinter]``) are kept,
and they do break when a module imports against them (checked on a copy of the package with one import added).
Besides, no entrypoint builds a query: the CLI, the API and the console hand that to services."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

PACKAGE = REPO / "src" / "fangpin"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
QUERY_BUILDERS = {"select", "insert", "update", "delete", "func", "text", "cast", "and_", "or_", "exists"}


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the repository's contracts, on the ``fangpin`` found in ``package_parent``."""
    environment = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(REPO / "pyproject.toml")],
                          cwd=package_parent, env=environment, capture_output=True, text=True)


def test_the_package_keeps_its_import_contracts() -> None:
    result = lint_imports(REPO / "src")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "added", "contract"),
    [
        ("facts.py", "import fangpin.services.claims", "layers: entrypoints -> services"),
        ("services/runs.py", "import fangpin.web.render", "layers: entrypoints -> services"),
        ("packs/loader.py", "import fangpin.db.queries", "layers: entrypoints -> services"),
        ("web/routes/home.py", "from fangpin.db.models import Run", "entrypoints reach stored data only"),
        ("screening/bulk.py", "import durable.lang", "durable_rules (module durable) only in fangpin.engine"),
    ],
)
def test_a_backwards_import_breaks_a_contract(tmp_path: Path, module: str, added: str, contract: str) -> None:
    copy = tmp_path / "fangpin"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("static", "templates", "__pycache__"))
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{added}  # noqa\n", encoding="utf-8")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert len(broken) == 1, result.stdout
    assert broken[0].startswith(contract), result.stdout


def _query_builders(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            found += [f"{path.relative_to(PACKAGE)}:{node.lineno}: {alias.name}" for alias in node.names
                      if alias.name in QUERY_BUILDERS]
    return found


def test_no_entrypoint_builds_a_query() -> None:
    modules = [PACKAGE / "cli.py", *sorted((PACKAGE / "api").rglob("*.py")), *sorted((PACKAGE / "web").rglob("*.py"))]

    found = [hit for path in modules for hit in _query_builders(path)]

    assert found == [], "queries belong in fangpin.services:\n" + "\n".join(found)
