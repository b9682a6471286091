"""`fangpin screen`, `replay`, `audit verify`, `runs` and `db upgrade` as an office or an auditor runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fangpin.cli import app
from fangpin.db.session import get_engine
from tests.integration.drops import MEDICAL_HEADER, base_drop, settlement, write
from tests.support import REPO

runner = CliRunner()


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"FANGPIN_DATABASE_URL": database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs"), "COLUMNS": "160"}


def _screen(drop: Path, env: dict[str, str], *extra: str) -> object:
    return runner.invoke(app, ["screen", str(drop), "--year", "2019", "--county", "130434", *extra], env=env)


def test_screen_writes_every_result_file_and_prints_the_summary(env: dict[str, str], tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])

    result = _screen(drop, env, "--out", str(tmp_path / "out"))

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    files = {path.name for path in (tmp_path / "out").iterdir()}
    assert {"decisions.csv", "rejections.csv", "run.json", "report.xlsx", "visits.csv"} <= files
    run = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))
    assert run["rows"]["read"] == run["rows"]["used"] + run["rows"]["rejected"] + run["rows"]["skipped"]
    assert "5,000.00" in result.stdout  # type: ignore[attr-defined]


def test_screen_of_the_same_drop_again_says_nothing_changed(env: dict[str, str], tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    _screen(drop, env)

    again = _screen(drop, env)

    assert again.exit_code == 0  # type: ignore[attr-defined]
    assert "already screened" in again.stdout and "nothing changed" in again.stdout  # type: ignore[attr-defined]


def test_screen_of_a_drop_missing_a_column_fails_naming_file_and_field(env: dict[str, str], tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [])
    write(drop, "medical.csv", [MEDICAL_HEADER.replace("医疗总费用,", ""), ""])

    result = _screen(drop, env)

    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "medical.csv" in result.stderr and "total" in result.stderr  # type: ignore[attr-defined]
    with get_engine(env["FANGPIN_DATABASE_URL"]).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 0


def test_screen_for_a_year_with_no_pack_exits_3(env: dict[str, str], tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [])

    result = runner.invoke(app, ["screen", str(drop), "--year", "1999", "--county", "130434"], env=env)

    assert result.exit_code == 3  # type: ignore[attr-defined]
    assert "1999" in result.stderr  # type: ignore[attr-defined]


def test_replay_verify_and_runs_after_a_screen(env: dict[str, str], tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                         settlement("S2", 2, "2019-04-15", "9000.00")])
    _screen(drop, env, "--out", str(tmp_path / "out"))
    run_id = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))["run_id"]

    same = runner.invoke(app, ["replay", "--run", run_id, "--out", str(tmp_path / "same")], env=env)
    other = runner.invoke(app, ["replay", "--run", run_id, "--pack", str(REPO / "rules" / "handan-2020"),
                                "--out", str(tmp_path / "other")], env=env)
    verified = runner.invoke(app, ["audit", "verify"], env=env)
    listed = runner.invoke(app, ["runs"], env=env)

    assert same.exit_code == 0 and "identical" in same.stdout, same.output
    assert other.exit_code == 1 and "poverty_line" in other.stdout, other.output
    summary = json.loads((tmp_path / "other" / "summary.json").read_text("utf-8"))
    assert (summary["payout_before"], summary["payout_after"]) == ("5000.00", "7000.00")
    assert (tmp_path / "other" / "diff.xlsx").is_file()
    assert verified.exit_code == 0 and "intact" in verified.stdout
    assert run_id in listed.stdout and "魏县 (130434)" in listed.stdout


def test_audit_verify_exits_1_and_names_the_altered_record(env: dict[str, str], tmp_path: Path) -> None:
    _screen(base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")]), env)
    with get_engine(env["FANGPIN_DATABASE_URL"]).begin() as connection:
        connection.execute(sa.text("UPDATE payments SET amount = amount * 2"))

    result = runner.invoke(app, ["audit", "verify"], env=env)

    assert result.exit_code == 1
    assert "payments" in result.stderr and "altered" in result.stderr


def test_replay_needs_exactly_one_of_run_or_decision(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["replay"], env=env).exit_code == 2
    assert runner.invoke(app, ["replay", "--run", "x", "--decision", "1"], env=env).exit_code == 2


def test_replay_of_an_unknown_run_is_a_clear_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["replay", "--run", "no-such-run"], env=env)

    assert result.exit_code == 2
    assert "没有运行 no-such-run" in result.stderr


def test_db_upgrade_migrates_an_empty_database(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env=env)

    assert result.exit_code == 0, result.output
    with get_engine(env["FANGPIN_DATABASE_URL"]).connect() as connection:
        assert "decisions" in sa.inspect(connection).get_table_names()


def test_screen_writes_who_heads_each_household_for_search_by_name(env: dict[str, str], tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])

    _screen(drop, env, "--out", str(tmp_path / "out"))

    heads = (tmp_path / "out" / "households.csv").read_text("utf-8-sig").splitlines()
    assert heads[0] == "household_id,head_name,head_id,township,village"
    assert heads[1].startswith("H1,张三,") and heads[1].endswith(",东代固镇,东村")


LONG_IDS = ("130434-101-0000000000001", "130434-101-0000000000002")


def _with_long_household_ids(drop: Path) -> Path:
    for name, encoding in (("register.csv", "gb18030"), ("members.csv", "utf-8")):
        path = drop / name
        text = path.read_text(encoding).replace("\nH1,", f"\n{LONG_IDS[0]},").replace("\nH2,", f"\n{LONG_IDS[1]},")
        path.write_text(text, encoding)
    return drop


def test_at_80_columns_piped_run_ids_and_household_ids_are_printed_whole(env: dict[str, str],
                                                                         tmp_path: Path) -> None:
    narrow = {**env, "COLUMNS": "80"}
    drop = _with_long_household_ids(base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                                                  settlement("S2", 2, "2019-04-15", "9000.00")]))
    screened = _screen(drop, narrow, "--out", str(tmp_path / "out"))
    run_id = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))["run_id"]

    listed = runner.invoke(app, ["runs"], env=narrow)
    other = runner.invoke(app, ["replay", "--run", run_id, "--pack", str(REPO / "rules" / "handan-2020"),
                                "--out", str(tmp_path / "other")], env=narrow)

    assert screened.exit_code == 0, screened.output  # type: ignore[attr-defined]
    assert run_id in screened.stdout and "5,000.00" in screened.stdout  # type: ignore[attr-defined]
    assert listed.exit_code == 0, listed.output
    assert run_id in listed.stdout.splitlines() and "5,000.00" in listed.stdout
    assert other.exit_code == 1, other.output
    assert LONG_IDS[1] in other.stdout.splitlines()  # H2: above the 2019 ceiling, below the 2020 one
    assert "7,000.00" in other.stdout and "结果改变 changed" in other.stdout


def test_replay_says_how_many_difference_rows_it_shows_of_how_many(env: dict[str, str], tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                         settlement("S2", 2, "2019-04-15", "9000.00")])
    _screen(drop, env, "--out", str(tmp_path / "out"))
    run_id = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))["run_id"]

    other = runner.invoke(app, ["replay", "--run", run_id, "--pack", str(REPO / "rules" / "handan-2020"),
                                "--out", str(tmp_path / "replay")], env=env)

    rows = len((tmp_path / "replay" / "diff.csv").read_text("utf-8").splitlines()) - 1
    assert 0 < rows < 20
    assert f"all {rows} rows" in other.stdout and "first 20 of" not in other.stdout


def test_fund_input_is_read_as_accountants_write_it_and_printed_grouped(env: dict[str, str]) -> None:
    fund = ["fund", "--county", "130434", "--year", "2019"]

    purpose = ["--purpose", "县级财政配套", "--date", "2019-03-01"]
    grouped = runner.invoke(app, [*fund, "--input", "1,000,000.50", *purpose], env=env)
    wan = runner.invoke(app, [*fund, "--input", "12.5万", *purpose, "--json"], env=env)
    ambiguous = runner.invoke(app, [*fund, "--input", "1,00,000", *purpose], env=env)

    assert grouped.exit_code == 0, grouped.output
    assert "1,000,000.50" in grouped.stdout and "财政投入 fiscal input" in grouped.stdout
    assert wan.exit_code == 0, wan.output
    assert json.loads(wan.stdout)["fiscal_input"] == "1125000.50"
    assert ambiguous.exit_code == 2 and "1,00,000" in ambiguous.stderr and "每三位" in ambiguous.stderr
    assert json.loads(runner.invoke(app, [*fund, "--json"], env=env).stdout)["fiscal_input"] == "1125000.50"


@pytest.mark.parametrize(("variable", "value"), [("FANGPIN_API_TELEMETRY", "maybe"),
                                                 ("FANGPIN_MEMORY_BUDGET_MB", "lots"),
                                                 ("FANGPIN_MEMORY_BUDGET_MB", "10")])
def test_a_malformed_setting_is_one_line_naming_it_before_any_work(
        variable: str, value: str, env: dict[str, str], tmp_path: Path) -> None:
    """Every command reads its settings first: a FANGPIN_* variable that is not a valid value for its setting
    stops the command with one line naming the variable (exit 2), no traceback, and nothing of an earlier
    run stored is touched."""
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    assert _screen(drop, env).exit_code == 0  # type: ignore[attr-defined]
    runs = sorted(path.name for path in (tmp_path / "runs").iterdir())
    with get_engine(env["FANGPIN_DATABASE_URL"]).connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*) FROM decisions")).scalar()

    for command in (["screen", str(drop), "--year", "2019", "--county", "130434"], ["runs"]):
        result = runner.invoke(app, command, env={**env, variable: value})
        assert result.exit_code == 2, result.output
        assert variable in result.output and "不是有效的设置值" in result.output
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == runs
    with get_engine(env["FANGPIN_DATABASE_URL"]).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM decisions")).scalar() == stored
