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
    for text in ("130434-0001", "edge", "26150.00", "3922.50", "illness_edge", "二(二)"):
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
    for text in ("因意外 accident", "因灾 disaster", "1500.00", "脱贫不稳定户"):
        assert text in result.stdout


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
