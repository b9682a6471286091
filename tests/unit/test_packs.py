"""Rule packs: loading, identity by content, errors that name file and key, policy as data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from fangpin.deciding import decide
from fangpin.errors import NoPackForYear, PackError
from fangpin.packs import load_pack, pack_for_year
from tests.support import PACK_2019, household, illness


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(PACK_2019, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_reformatting_the_yaml_does_not_change_the_pack_hash(pack_copy: Path) -> None:
    original = load_pack(PACK_2019).hash
    for name in ("parameters.yaml", "rules.yaml", "pack.yaml"):  # block style, sorted keys, other quoting
        path = pack_copy / name
        path.write_text("# reformatted\n" + yaml.safe_dump(yaml.safe_load(path.read_text("utf-8")),
                                                           allow_unicode=True, sort_keys=True, indent=4), "utf-8")
    _edit(pack_copy / "parameters.yaml", "value: '3200.00'", "value: 3200  # unquoted, same amount")

    assert load_pack(pack_copy).hash == original


def test_changing_the_poverty_line_changes_the_hash_and_the_decision_without_code(pack_copy: Path) -> None:
    original = load_pack(PACK_2019)
    _edit(pack_copy / "parameters.yaml", 'value: "3200.00"', 'value: "4000.00"')
    changed = load_pack(pack_copy)
    h = household(income_per_capita="5000.00", illness=illness("30000"))

    assert changed.hash != original.hash
    assert decide(h, original).outcome == "not_covered"
    after = decide(h, changed)
    assert after.outcome == "pay" and str(after.payout) == "5000.00"
    assert after.pack.hash == changed.hash


def test_the_income_ceiling_is_derived_from_line_and_multiplier(pack_copy: Path) -> None:
    _edit(pack_copy / "parameters.yaml", 'value: "1.5"', 'value: "2"')

    assert str(load_pack(pack_copy).amount("income_ceiling")) == "6400.00"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("parameters.yaml", 'value: "5000.00"', 'value: "-5"', "illness_deductible_unstable_exit"),
        ("parameters.yaml", '{up_to: "50000.00", rate: "0.60"}', '{up_to: "10000.00", rate: "0.60"}', "tiers"),
        ("parameters.yaml", 'rate: "0.70"', 'rate: "1.70"', "illness_tiers"),
        ("rules.yaml", "per_capita_income: {lt: $income_ceiling}}", "per_capita_incom: {lt: $income_ceiling}}",
         "unknown fact field 'per_capita_incom'"),
        ("rules.yaml", "{gte: $income_ceiling}", "{gte: $no_such_parameter}", "unknown parameter $no_such_parameter"),
        ("rules.yaml", "{gte: $income_ceiling}", "{in_range: $income_ceiling}", "unknown operator 'in_range'"),
        ("rules.yaml", "tiers: $illness_tiers", "tiers: $illness_cap", "is a money parameter"),
        ("rules.yaml", "group: edge\n    deductible: $illness_deductible_edge",
         "group: nobody\n    deductible: $illness_deductible_edge", "unknown group 'nobody'"),
        ("rules.yaml", "id: illness_edge", "id: illness_unstable_exit", "used twice"),
        ("rules.yaml", "then: {outcome: refer_dibao}", "then: {outcome: pay_everyone}", "rules.2.then.outcome"),
        ("pack.yaml", "years: [2019]", "years: []", "years"),
        ("rules.yaml", "groups:", "groups: [\n", "not valid YAML"),
    ],
)
def test_a_broken_pack_is_refused_with_the_file_and_key_named(
    pack_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(pack_copy / file, old, new)

    with pytest.raises(PackError) as caught:
        load_pack(pack_copy)

    assert file in str(caught.value)
    assert message in str(caught.value)


def test_a_folder_without_pack_yaml_is_not_a_pack(tmp_path: Path) -> None:
    with pytest.raises(PackError, match=r"no pack\.yaml"):
        load_pack(tmp_path)


def test_the_shipped_pack_in_force_is_found_for_its_year() -> None:
    assert pack_for_year(2019).id == "handan-2019"


def test_a_year_with_no_pack_in_force_is_a_clear_error() -> None:
    with pytest.raises(NoPackForYear, match="1999 政策年度"):
        pack_for_year(1999)


def test_packs_are_found_through_the_rules_dir_setting(monkeypatch: pytest.MonkeyPatch, pack_copy: Path) -> None:
    _edit(pack_copy / "pack.yaml", "years: [2019]", "years: [2031]")
    monkeypatch.setenv("FANGPIN_RULES_DIR", str(pack_copy.parent))

    assert pack_for_year(2031).directory == pack_copy
