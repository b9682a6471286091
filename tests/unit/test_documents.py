"""Household documents: exact reading, and errors that name the field at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from fangpin.deciding import decide
from fangpin.documents import parse_document, read_document
from fangpin.errors import DocumentError
from fangpin.packs import Pack

GOOD = """
household_id: "130434-0001"
year: 2019
county: "130434"
status: never_registered
members: 4
income: 17600.10
labour_capacity: true
housing_secure: true
illness: [{id: S1, date: 2019-03-02, burden: 45000.05}]
"""


def test_yaml_numbers_are_read_exactly_not_as_floats() -> None:
    household = parse_document(GOOD)

    assert str(household.income) == "17600.10"
    assert str(household.events_of("illness")[0].fields["burden"]) == "45000.05"


def test_json_numbers_are_read_exactly() -> None:
    text = ('{"household_id": "H", "year": 2019, "county": "130434", "status": "exited", "members": 3,'
            '"income": 13500.00, "labour_capacity": true, "housing_secure": true,'
            '"illness": [{"id": "S", "date": "2019-05-11", "burden": 12345.67}]}')

    assert str(parse_document(text, json_text=True).events_of("illness")[0].fields["burden"]) == "12345.67"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("status: never_registered", "status: poor"), "status", "不是规则包认识的户类型(可选:脱贫户"),
        (("members: 4", "members: 0"), "members", "members(家庭人口):不能小于 1"),
        (("members: 4", "members: four"), "members", "应为整数"),
        (("income: 17600.10", "income: -1"), "income", "是负数"),
        (("income: 17600.10", "income: 17600.105"), "income", "超过两位小数"),
        (("income: 17600.10", "income: lots"), "income", "“lots”不是金额"),
        (("income: 17600.10\n", ""), "income", "income_per_capita"),
        (("burden: 45000.05", "burden: N/A"), "illness[0].burden", "“N/A”不是金额"),
        (("date: 2019-03-02", "date: 2018-12-31"), "illness[0].date", "不在 2019 政策年度内"),
        (("date: 2019-03-02", "date: 2019-02-30"), "illness[0].date", ""),
        (("county: \"130434\"", "county: \"13043\""), "county", "格式不对"),
        (("labour_capacity: true", "labour_capacity: maybe"), "labour_capacity", "应为 是 或 否"),
        (("housing_secure: true", "housing_secure: true\nhosing: true"), "hosing",
         "不是可填写的项目;是否想写 housing_secure(住房安全有保障)?"),
    ],
)
def test_a_malformed_document_names_the_field(change: tuple[str, str], field: str, message: str, pack: Pack) -> None:
    text = GOOD.replace(*change)

    with pytest.raises(DocumentError) as caught:
        decide(parse_document(text), pack)  # the document's own checks, then the pack's

    assert caught.value.field == field
    assert message in str(caught.value)


def test_the_same_event_twice_is_refused() -> None:
    text = GOOD.replace("illness: [{id: S1, date: 2019-03-02, burden: 45000.05}]",
                        "illness: [{id: S1, date: 2019-03-02, burden: 1}, {id: S1, date: 2019-04-02, burden: 1}]")

    with pytest.raises(DocumentError, match=r"illness\[1\]\.id"):
        parse_document(text)


def test_a_stage_the_pack_does_not_know_names_the_field(pack: Pack) -> None:
    household = parse_document(GOOD + "schooling: [{id: E1, date: 2019-09-01, stage: 幼儿园, full_time: true}]\n")

    with pytest.raises(DocumentError) as caught:
        decide(household, pack)

    assert caught.value.field == "schooling[0].stage"


def test_not_yaml_at_all_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match=r"<document>: 第 1 行第 \d+ 列: 不是有效的 YAML: .*请检查"):
        parse_document("household_id: [unclosed")


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(DocumentError, match="农户资料应是由字段组成的映射"):
        parse_document("- just\n- a list\n")


def test_a_missing_file_is_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"nope\.yaml: 无法读取: .*请检查文件路径"):
        read_document(tmp_path / "nope.yaml")


@pytest.mark.parametrize("value", ["true", "[1, 2]", "{a: 1}", "null"])
def test_an_amount_that_is_a_boolean_list_or_mapping_names_the_field(value: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document(GOOD.replace("income: 17600.10", f"income: {value}"))

    assert caught.value.field == "income" or value == "null"


def test_an_event_list_of_a_cause_the_pack_lacks_is_refused_naming_it(pack: Pack) -> None:
    text = GOOD + "accident: [{id: A1, date: 2019-05-01, loss: 12000}]\n"

    with pytest.raises(DocumentError) as caught:
        decide(parse_document(text), pack)

    assert caught.value.field == "accident"
    assert "没有救助项目 accident" in str(caught.value)


def test_a_field_an_event_of_the_cause_does_not_have_is_refused_naming_it(pack: Pack) -> None:
    text = GOOD.replace("burden: 45000.05}", "burden: 45000.05, tuition: 5}")

    with pytest.raises(DocumentError) as caught:
        decide(parse_document(text), pack)

    assert caught.value.field == "illness[0].tuition"


def test_statuses_and_kinds_may_be_written_as_the_pack_s_aliases(pack: Pack) -> None:
    text = (GOOD.replace("status: never_registered", "status: 一般农户")
            .replace("illness: [{id: S1, date: 2019-03-02, burden: 45000.05}]",
                     "disaster: [{id: D1, date: 2019-07-01, kind: 洪涝, loss: 36000}]"))

    decision = decide(parse_document(text), pack)

    assert decision.group == "edge"
    assert str(decision.cause("disaster").increment) == "13000.00"
