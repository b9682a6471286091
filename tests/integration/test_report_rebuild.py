"""`fangpin report --run ID` writes a stored run's result files again from the database alone (SQLite and
PostgreSQL): decisions.csv byte for byte the run's own, and the other CSV files too; and a workbook that
fails after the run was stored keeps every other file and can be written again."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fangpin.cli import app
from fangpin.services import screening
from fangpin.services.screening import ScreenRequest, screen
from tests.support import COUNTY, DEMO

BYTE_FOR_BYTE = ("decisions.csv", "rejections.csv", "visits.csv", "households.csv")


def _screen(database_url: str, tmp_path: Path) -> Path:
    result = screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=database_url,
                                  runs_dir=tmp_path / "runs", workers=1))
    assert result.out_dir is not None and not result.warnings
    return result.out_dir


def test_report_rebuilds_every_result_file_of_a_stored_run(database_url: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    original = _screen(database_url, tmp_path)
    run_id = original.name
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    target = tmp_path / "rebuilt"

    result = CliRunner().invoke(app, ["report", "--run", run_id, "--out", str(target)])

    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in target.iterdir()) == sorted(path.name for path in original.iterdir())
    for name in BYTE_FOR_BYTE:
        assert (target / name).read_bytes() == (original / name).read_bytes(), name
    stored = json.loads((original / "run.json").read_text(encoding="utf-8"))
    decisions = (target / "decisions.csv").read_text(encoding="utf-8").splitlines()
    assert len(decisions) == 1 + stored["totals"]["households"] == 35  # the header, the demo's 34 households
    rebuilt = json.loads((target / "run.json").read_text(encoding="utf-8"))
    assert rebuilt == {key: value for key, value in stored.items() if key not in ("seconds", "cpu_seconds")}
    with zipfile.ZipFile(target / "report.xlsx") as workbook:
        assert "xl/workbook.xml" in workbook.namelist()
        sheets = workbook.read("xl/workbook.xml").decode()
    assert "入户核查名单" in sheets and "拒绝明细" in sheets

    again = CliRunner().invoke(app, ["report", "--run", run_id, "--out", str(target)])
    assert again.exit_code == 2 and "输出文件夹已存在且不是空的" in again.output
    unknown = CliRunner().invoke(app, ["report", "--run", "no-such-run", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and "数据库中没有运行 'no-such-run'" in unknown.output
    assert not (tmp_path / "x").exists()


def _failing_workbook(staging: Path, *_args: object) -> subprocess.Popen[bytes]:
    (staging / ".report-inputs").mkdir()
    (staging / "report.xlsx").write_bytes(b"half a workbook")
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit('MemoryError: the workbook failed')"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_failed_workbook_keeps_the_runs_other_files(database_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screening, "_start_workbook", _failing_workbook)
    result = screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=database_url,
                                  runs_dir=tmp_path / "runs", workers=1))

    assert result.out_dir is not None and not result.already
    written = sorted(path.name for path in result.out_dir.iterdir())
    assert written == ["decisions.csv", "households.csv", "rejections.csv", "run.json", "visits.csv"]
    assert len(result.warnings) == 1 and "写出 report.xlsx 失败: MemoryError: the workbook failed" in \
        result.warnings[0] and f"fangpin report --run {result.out_dir.name}" in result.warnings[0]
    summary = json.loads((result.out_dir / "run.json").read_text(encoding="utf-8"))
    assert summary["warnings"] == result.warnings
    monkeypatch.undo()

    # the drop is stored: uploading it again says so, and the workbook is written from the database
    again = screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=database_url,
                                 runs_dir=tmp_path / "runs", workers=1))
    assert again.already and again.run["run_id"] == result.out_dir.name
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    rebuilt = CliRunner().invoke(app, ["report", "--run", result.out_dir.name, "--out", str(tmp_path / "report")])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (tmp_path / "report" / "report.xlsx").read_bytes()[:2] == b"PK"
    assert (tmp_path / "report" / "decisions.csv").read_bytes() == (result.out_dir / "decisions.csv").read_bytes()
