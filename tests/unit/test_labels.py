"""fangpin's one vocabulary (``fangpin.labels``): every code the engine, the claims path and the intake can
produce has its Chinese; field paths, pydantic errors and encodings read as Chinese; the packs' own labels
name their rules and parameters without changing the shipped packs' hashes."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from fangpin import labels
from fangpin.claims import ROLES, STATES, TRANSITION
from fangpin.decisions import Outcome
from fangpin.packs import available_packs
from fangpin.services.screening import SKIP_REASONS

CHINESE = re.compile(r"[\u4e00-\u9fff]")
ASCII_WORD = re.compile(r"[A-Za-z]{3,}")
# The shipped packs' hashes, as stored runs name them (tests/fixtures/release-0.1.0 and the golden files).
SHIPPED = {"handan-2019": "b870592cfb1e", "handan-2020": "286571975c89", "hebei-monitoring-2023": "e22970d48211"}


def test_every_role_state_and_outcome_has_its_chinese() -> None:
    assert set(labels.ROLES) == set(ROLES)
    assert set(labels.STATES) == set(STATES)
    assert set(labels.OUTCOMES) == set(typing.get_args(Outcome))
    assert set(labels.STEPS) == set(STATES)
    for table in (labels.ROLES, labels.STATES, labels.OUTCOMES, labels.STEPS, labels.REASONS, labels.FIELDS,
                  labels.READ_KINDS, labels.USER_STATES, labels.PROBLEMS):
        assert all(CHINESE.search(text) for text in table.values()), table


def test_every_reason_a_row_can_be_rejected_or_skipped_for_is_labelled() -> None:
    produced = {"bad_amount", "bad_date", "bad_id_number", "bad_members", "bad_stage", "bad_status", "bad_value",
                "duplicate_event", "duplicate_household", "duplicate_person", "inconsistent_amounts",
                "outside_policy_year", "unknown_household", "unknown_person", *SKIP_REASONS}
    assert produced <= set(labels.REASONS)


@pytest.mark.parametrize(("path", "causes", "shown"), [
    ("household_id", None, "户编号"),
    ("housing_secure", None, "住房安全有保障"),
    ("verified.illness", {"illness": "因病"}, "核实金额·因病"),
    ("verified.per_capita_income", None, "核实金额·人均可支配收入"),
    ("confirmations[1].department", None, "部门确认第2行·部门"),
    ("objections[0].upheld", None, "异议第1行·异议成立"),
    ("paid_this_year.illness", {"illness": "因病"}, "本年已赔付·因病"),
    (None, None, "请求内容"),
])
def test_a_field_path_reads_as_its_labels(path: str | None, causes: dict[str, str] | None, shown: str) -> None:
    assert labels.field_label(path, causes) == shown


def test_a_field_fangpin_does_not_name_is_kept_as_it_is() -> None:
    assert labels.field_label("住院总费用") == "住院总费用"
    assert labels.label(labels.OUTCOMES, "made_up") == "made_up"


def test_both_puts_the_chinese_first_and_the_code_beside_it() -> None:
    assert labels.both(labels.ROLES, "office") == "防贫办 office"
    assert labels.both(labels.ROLES, "nobody") == "nobody"
    assert labels.roles_text({"village", "surveyor"}) == "保险公司查勘员或村(评议公示)"


def test_encodings_are_described_in_words() -> None:
    assert labels.encoding_label("gb18030") == "国标中文编码文本(GB18030)"
    assert labels.encoding_label("xlsx") == "电子表格工作簿(.xlsx)"
    assert labels.encoding_label(None) == "—"


class _Form(BaseModel):
    day: typing.Annotated[str, Field(max_length=3)]
    count: int = Field(ge=1)


@pytest.mark.parametrize(("data", "says"), [
    ({"count": 1}, "必须填写"),
    ({"day": "abcd", "count": 1}, "过长(最多 3 个字符)"),
    ({"day": "a", "count": "abc"}, "应为整数"),
    ({"day": "a", "count": 0}, "不能小于 1"),
])
def test_pydantic_errors_read_as_chinese(data: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Form.model_validate(data)

    message = labels.validation_message(caught.value.errors()[0])

    assert message == says and not ASCII_WORD.search(message)


def test_a_step_s_own_refusal_keeps_its_chinese_and_an_unknown_step_lists_the_steps() -> None:
    with pytest.raises(ValidationError) as caught:
        TRANSITION.validate_python({"to": "publicised", "version": 1, "publicity_start": "2019-10-08",
                                    "deliberation": {"result": "not_approved"}})
    assert "评议未通过" in labels.validation_message(caught.value.errors()[0])
    with pytest.raises(ValidationError) as unknown:
        TRANSITION.validate_python({"to": "approved", "version": 1})
    assert "入户查勘" in labels.validation_message(unknown.value.errors()[0])


def test_the_shipped_packs_name_every_rule_and_parameter_in_chinese_and_keep_their_hashes() -> None:
    packs = {pack.id: pack for pack in available_packs()}

    assert {pack_id: pack.short_hash for pack_id, pack in packs.items()} == SHIPPED
    for pack in packs.values():
        named = pack.people_labels
        assert set(named.rules) == {rule.id for rule in pack.compiled}
        assert set(named.parameters) == set(pack.parameters)
        for text in (*named.rules.values(), *named.parameters.values()):
            assert CHINESE.search(text), (pack.id, text)
        assert not any(rule.description in named.rules.values() for rule in pack.rules_file.rules)
    assert packs["handan-2019"].people_labels.parameters["poverty_line"] == "贫困线"
    assert packs["handan-2019"].people_labels.rules["illness_edge"] == "因病·非贫低收入户(边缘户)"


def test_labels_yaml_is_outside_a_pack_s_identity_and_a_label_key_inside_it(tmp_path: Path) -> None:
    import shutil

    from fangpin.packs import load_pack
    from tests.support import REPO

    copy = tmp_path / "handan-2019"
    shutil.copytree(REPO / "rules" / "handan-2019", copy)
    original = load_pack(copy)
    (copy / "labels.yaml").write_text("parameters:\n  poverty_line: 国家贫困线(改)\n", encoding="utf-8")
    relabelled = load_pack(copy)
    parameters = copy / "parameters.yaml"
    parameters.write_text(parameters.read_text(encoding="utf-8").replace(
        "poverty_line:\n  type: money\n", "poverty_line:\n  type: money\n  label: 贫困线(包内)\n"), encoding="utf-8")
    labelled = load_pack(copy)

    assert relabelled.hash == original.hash
    assert relabelled.people_labels.parameters["poverty_line"] == "国家贫困线(改)"
    assert labelled.hash != original.hash  # a label key is part of the content it is written in
    assert labelled.people_labels.parameters["poverty_line"] == "贫困线(包内)"
