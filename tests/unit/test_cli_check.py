"""`fangpin check`, `fangpin packs` and `fangpin pack-validate` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from fangpin.cli import app
from tests.support import PACK_2019, REPO

runner = CliRunner()
DEMO_HOUSEHOLD = REPO / "fixtures" / "households" / "130434-0001.yaml"


def test_check_json_prints_one_decision_object_with_the_required_keys() -> None:
    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD), "--json"])

    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    for key in ("household_id", "group", "outcome", "per_capita_income", "payout", "fee", "pack", "causes"):
        assert key in decision
    assert decision["payout"] == "26150.00" and decision["fee"] == "3922.50"
    assert len(decision["pack"]["hash"]) == 64


def test_check_prints_a_readable_account() -> None:
    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD)], env={"COLUMNS": "140"})

    assert result.exit_code == 0, result.output
    for text in ("130434-0001", "edge", "26,150.00", "3,922.50", "illness_edge", "二(二)", "赔付 payout"):
        assert text in result.stdout


def test_check_prints_the_causes_of_the_deciding_pack_with_its_labels(tmp_path: Path) -> None:
    """A monitoring household with an accident: the pack's fourth cause is shown with the pack's label."""
    import yaml

    case = yaml.safe_load((REPO / "rules" / "hebei-monitoring-2023" / "cases" / "08-a-year-of-claims-four-causes.yaml")
                          .read_text("utf-8"))
    document = tmp_path / "household.yaml"
    document.write_text(yaml.safe_dump(case["steps"][1]["household"], allow_unicode=True), "utf-8")

    result = runner.invoke(app, ["check", str(document)], env={"COLUMNS": "160"})

    assert result.exit_code == 0, result.output
    for text in ("因意外 accident", "因灾 disaster", "1,500.00", "脱贫不稳定户"):
        assert text in result.stdout


def test_check_at_80_columns_keeps_each_tier_whole_on_its_own_line() -> None:
    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD)], env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "因病 illness    20,000.00 × 0.50 = 10,000.00" in lines
    assert "5,000.00 × 0.60 = 3,000.00" in lines
    assert "因灾 disaster   26,000.00 × 0.50 = 13,000.00" in lines
    assert all(len(line) <= 80 for line in result.stdout.splitlines() if "sha256" not in line)


def test_check_of_a_malformed_document_names_the_field_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_HOUSEHOLD.read_text("utf-8").replace("members: 4", "members: -4"), "utf-8")

    result = runner.invoke(app, ["check", str(bad)])

    assert result.exit_code == 2
    assert "members" in result.stderr


def test_check_with_another_pack_uses_it(tmp_path: Path) -> None:
    pack = tmp_path / "county-pack"
    shutil.copytree(PACK_2019, pack)
    params = pack / "parameters.yaml"
    params.write_text(params.read_text("utf-8").replace('value: "0.15"', 'value: "0.10"'), "utf-8")

    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD), "--json", "--pack", str(pack)])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fee"] == "2615.00"


def test_check_with_a_broken_pack_exits_3_naming_file_and_key(tmp_path: Path) -> None:
    pack = tmp_path / "broken"
    shutil.copytree(PACK_2019, pack)
    params = pack / "parameters.yaml"
    params.write_text(params.read_text("utf-8").replace('value: "0.15"', 'value: "fifteen"'), "utf-8")

    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD), "--pack", str(pack)])

    assert result.exit_code == 3
    assert "parameters.yaml" in result.stderr and "insurer_fee_rate" in result.stderr


def test_pack_validate_prints_the_hash() -> None:
    result = runner.invoke(app, ["pack-validate", str(PACK_2019)])

    assert result.exit_code == 0
    assert "valid" in result.stdout


def test_packs_lists_the_shipped_packs() -> None:
    result = runner.invoke(app, ["packs"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert "handan-2019" in result.stdout


def test_check_decides_every_file_given_and_fails_if_any_failed(tmp_path: Path) -> None:
    second = tmp_path / "second.yaml"
    second.write_text(DEMO_HOUSEHOLD.read_text("utf-8").replace('"130434-0001"', '"130434-0002"'), "utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEMO_HOUSEHOLD.read_text("utf-8").replace("members: 4", "members: [4"), "utf-8")

    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD), str(broken), str(second), "--json"])

    assert result.exit_code == 2
    decided = [json.loads(line)["household_id"] for line in result.stdout.splitlines()]
    assert decided == ["130434-0001", "130434-0002"]
    assert str(broken) in result.stderr and "1 出错 failed" in result.stderr


def test_check_of_several_good_files_prints_each_account_under_its_file_name(tmp_path: Path) -> None:
    second = tmp_path / "second.yaml"
    second.write_text(DEMO_HOUSEHOLD.read_text("utf-8").replace('"130434-0001"', '"130434-0002"'), "utf-8")

    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD), str(second)], env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    assert f"文件 file {second}" in result.stdout.splitlines()
    assert result.stdout.count("26,150.00") == 2


def test_a_misspelled_key_is_reported_as_unknown_with_the_field_meant(tmp_path: Path) -> None:
    bad = tmp_path / "misspelled.yaml"
    bad.write_text(DEMO_HOUSEHOLD.read_text("utf-8").replace("members: 4", "membrs: 4"), "utf-8")

    result = runner.invoke(app, ["check", str(bad)])

    assert result.exit_code == 2
    assert "membrs:不是可填写的项目;是否想写 members(家庭人口)?" in result.stderr
    assert "Field required" not in result.stderr and "more" not in result.stderr


def test_a_yaml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "unclosed.yaml"
    bad.write_text(DEMO_HOUSEHOLD.read_text("utf-8").replace("members: 4", "members: [4"), "utf-8")
    line = next(n for n, text in enumerate(bad.read_text("utf-8").splitlines(), 1) if "members: [4" in text)

    result = runner.invoke(app, ["check", str(bad)])

    assert result.exit_code == 2
    assert f"{bad}: 第 " in result.stderr and "<unicode string>" not in result.stderr
    reported = int(result.stderr.split(f"{bad}: 第 ")[1].split(" 行")[0])
    assert line <= reported <= line + 1  # the flow sequence opened here runs into the next key


def test_check_names_the_rules_that_fired_by_the_pack_s_labels_not_their_descriptions() -> None:
    result = runner.invoke(app, ["check", str(DEMO_HOUSEHOLD)], env={"COLUMNS": "140"})

    assert result.exit_code == 0, result.output
    assert "因病·非贫低收入户(边缘户)" in result.stdout and "非贫低收入户(边缘户)" in result.stdout
    assert "Illness burden" not in result.stdout and "never registered" not in result.stdout
