"""One department export to typed valid rows and row outcomes (EXPORTS.md sections 1-3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from fangpin.intake import (
    OUTCOME_SCHEMA,
    MissingColumnError,
    ParsedExport,
    UnrecognisedFileError,
    identify_export,
    load_profiles,
    output_schema,
    parse_export,
    readers,
)
from fangpin.intake.profiles import ProfileError, Profiles

PROFILES = load_profiles()

REGISTER = "户编号,户主身份证号,户主姓名,乡镇,村,家庭人口数,家庭年可支配收入,年人均可支配收入,户类型,住房安全有保障"
MEMBERS = "户编号,身份证号,姓名,与户主关系,劳动技能"
MEDICAL = "结算单号,身份证号,结算日期,医疗总费用,基本医保支付,大病保险支付,医疗救助支付,个人负担"
EDUCATION = "缴费单号,学生身份证号,学段,就读方式,学费,住宿费,教科书费,缴费日期"


def id_number(serial: int) -> str:
    body = f"1304341980010{serial:04d}"
    return body + str(ric.calc_check_digit(body + "0"))


ID1, ID2, ID3 = id_number(1), id_number(2), id_number(3)
BAD_ID = ID1[:-1] + ("0" if ID1[-1] != "0" else "1")


def export(tmp_path: Path, header: str, *lines: str, name: str = "export.csv", encoding: str = "gbk",
           profiles: Profiles = PROFILES) -> ParsedExport:
    path = tmp_path / name
    path.write_bytes("\r\n".join([header, *lines, ""]).encode(encoding))
    return parse_export(path, profiles)


def outcomes(parsed: ParsedExport) -> list[tuple[int, str, str, str]]:
    return [(row, field, value, reason) for _, row, field, value, reason in parsed.outcomes.rows()]


def balanced(parsed: ParsedExport) -> bool:
    return bool(parsed.rows_read == parsed.used + parsed.rejected + parsed.skipped)


# --- the departments -----------------------------------------------------------------------------------

def test_a_register_export_is_typed_with_canonical_field_names(tmp_path: Path) -> None:
    parsed = export(tmp_path, REGISTER,
                    f'H1,{ID1},张三,城关镇,东村,4,"17,600.00",,一般农户,是',
                    f"H2,{ID2.lower()},李四,城关镇,西村,3,,4500,脱贫户,否",
                    f"H3,{ID3},王五,城关镇,西村,2,9600,4800.00,未脱贫户,Y")

    assert parsed.department == "register"
    assert parsed.encoding == "gb18030"
    assert parsed.rows.schema == pl.Schema(output_schema(PROFILES["register"]))
    assert parsed.rows.rows() == [
        (2, "H1", ID1, "张三", "城关镇", "东村", 4, 1760000, None, "never_registered", True),
        (3, "H2", ID2.upper(), "李四", "城关镇", "西村", 3, None, 450000, "exited", False),
        (4, "H3", ID3, "王五", "城关镇", "西村", 2, 960000, 480000, "registered_poor", True),
    ]
    assert parsed.outcomes.is_empty()
    assert parsed.outcomes.schema == pl.Schema(OUTCOME_SCHEMA)


def test_a_register_with_only_the_per_capita_column_is_complete(tmp_path: Path) -> None:
    parsed = export(tmp_path, "户码,户主证件号码,户主姓名,乡(镇),行政村,家庭人口,人均可支配收入,户属性,住房安全",
                    f"H1,{ID1},张三,城关镇,东村,4,4400,边缘户,N")

    assert parsed.rows.select("household_id", "income", "income_per_capita", "status", "housing_secure").rows() == [
        ("H1", None, 440000, "never_registered", False)]


def test_a_register_row_with_neither_income_is_rejected(tmp_path: Path) -> None:
    parsed = export(tmp_path, REGISTER, f"H1,{ID1},张三,城关镇,东村,4,,,一般农户,是")

    assert outcomes(parsed) == [(2, "income", "", "bad_amount")]


def test_member_labour_strings_read_as_able_to_work_or_not(tmp_path: Path) -> None:
    labour = ["技能劳动力", "普通劳动力", "弱劳动力或半劳动力", "丧失劳动力", "无劳动力"]
    parsed = export(tmp_path, MEMBERS, *[f"H1,{id_number(n)},某,子女,{text}" for n, text in enumerate(labour)])

    assert parsed.department == "members"
    assert parsed.rows["labour"].to_list() == [True, True, True, False, False]
    assert parsed.rows.schema == pl.Schema(output_schema(PROFILES["members"]))


def test_medical_burden_is_computed_on_the_quantised_amounts(tmp_path: Path) -> None:
    parsed = export(tmp_path, MEDICAL,
                    f'S1,{ID1},2019-03-02,"￥50,000.005",2000.004,"3,000元",0,45000.00',
                    f"S2,{ID1},2019/8/1,100,,,,")

    assert parsed.rows.select("settlement_id", "date", "total", "basic", "critical", "assistance", "personal",
                              "burden").rows() == [
        ("S1", dt.date(2019, 3, 2), 5000001, 200000, 300000, 0, 4500000, 4500001),
        ("S2", dt.date(2019, 8, 1), 10000, 0, 0, 0, None, 10000),
    ]


def test_every_date_form_is_read_in_the_bulk_path(tmp_path: Path) -> None:
    forms = ["2019-03-05", "2019/3/5", "2019.3.5", "20190305", "2019年3月5日", "2019-03-05 00:00:00",
             "2019-03-05 08:30:00", "２０１９-０３-０５"]
    bad = ["2019-02-30", "2019-02-30 00:00:00", "2019-13-01", "20191301", "2019/2/29"]
    parsed = export(tmp_path, MEDICAL, *[f"S,{ID1},{form},1,0,0,0," for form in forms + bad])

    assert parsed.rows["date"].to_list() == [dt.date(2019, 3, 5)] * len(forms)
    assert [(field, value, reason) for _, field, value, reason in outcomes(parsed)] == [
        ("date", form, "bad_date") for form in bad]


def test_a_personal_burden_off_by_more_than_a_fen_rejects_the_row(tmp_path: Path) -> None:
    parsed = export(tmp_path, MEDICAL,
                    f"S1,{ID1},2019-03-02,100.00,50.00,0,0,50.01",
                    f"S2,{ID1},2019-03-02,100.00,50.00,0,0,50.02",
                    f"S3,{ID1},2019-03-02,100.00,50.00,0,0,49.98")

    assert parsed.rows["settlement_id"].to_list() == ["S1"]
    assert outcomes(parsed) == [(3, "personal", "50.02", "inconsistent_amounts"),
                                (4, "personal", "49.98", "inconsistent_amounts")]


def test_a_negative_burden_rejects_the_row(tmp_path: Path) -> None:
    parsed = export(tmp_path, MEDICAL, f"S1,{ID1},2019-03-02,100.00,80.00,30.00,0,")

    assert outcomes(parsed) == [(2, "total", "100.00", "inconsistent_amounts")]


def test_education_stages_map_to_canonical_stages_flagged_when_outside_compulsory_school(tmp_path: Path) -> None:
    stages = ["高中", "普通高中", "中等职业教育", "高职", "专科", "本科", "硕士", "博士", "小学", "初中"]
    parsed = export(tmp_path, EDUCATION,
                    *[f"E{n},{ID1},{stage},全日制,6000,1500,800,2019-09-01" for n, stage in enumerate(stages)],
                    f"E10,{ID1},本科,非全日制,6000,,,2019-09-01")

    assert parsed.rows.schema == pl.Schema(output_schema(PROFILES["education"]))
    assert parsed.rows.select("stage", "stage_counts").rows() == [
        ("普通高中", True), ("普通高中", True), ("中职", True), ("高职", True), ("大专", True), ("本科", True),
        ("研究生", True), ("研究生", True), ("小学", False), ("初中", False), ("本科", True)]
    assert parsed.rows["full_time"].to_list() == [True] * 10 + [False]
    assert parsed.rows.row(10, named=True)["accommodation"] == 0


@pytest.mark.parametrize(("header", "department"), [
    ("事故编号,当事人身份证号,事故日期,财产损失金额,保险及第三方赔偿", "traffic"),
    ("事故编号,当事人身份证号,事故日期,财产损失,赔偿金额", "traffic"),
    ("火灾编号,户主身份证号,起火日期,直接财产损失,保险赔偿", "fire"),
    ("火灾编号,身份证号,起火日期,直接财产损失,保险赔偿", "fire"),
    ("灾情编号,身份证号,发生日期,财产损失,保险及救助赔偿", "disaster"),
])
def test_event_exports_are_told_apart_by_their_event_header(tmp_path: Path, header: str, department: str) -> None:
    parsed = export(tmp_path, header, f"F1,{ID1},2019-06-10,36000,1000", f"F2,{ID1},2019-06-11,1000,3000")

    assert parsed.department == department
    assert parsed.rows.schema == pl.Schema(output_schema(PROFILES[department]))
    assert parsed.rows["own_loss"].to_list() == [3500000, 0]


def test_a_fire_export_with_both_id_headers_takes_the_canonical_one(tmp_path: Path) -> None:
    parsed = export(tmp_path, "火灾编号,身份证号,户主身份证号,起火日期,直接财产损失,保险赔偿",
                    f"F1,{ID2},{ID1},2019-06-10,36000,0")

    assert parsed.rows["id_number"].to_list() == [ID1]
    assert parsed.headers["id_number"] == "户主身份证号"
    assert parsed.extra_columns == ("身份证号",)


# --- rejections ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "field", "value", "reason"), [
    (f"H1,{BAD_ID},张三,镇,村,4,9600,,一般农户,是", "head_id", BAD_ID, "bad_id_number"),
    ("H1,,张三,镇,村,4,9600,,一般农户,是", "head_id", "", "bad_id_number"),
    (f"H1,{ID1},张三,镇,村,0,9600,,一般农户,是", "members", "0", "bad_members"),
    (f"H1,{ID1},张三,镇,村,四,9600,,一般农户,是", "members", "四", "bad_members"),
    (f"H1,{ID1},张三,镇,村,,9600,,一般农户,是", "members", "", "bad_members"),
    (f"H1,{ID1},张三,镇,村,2.5,9600,,一般农户,是", "members", "2.5", "bad_members"),
    (f"H1,{ID1},张三,镇,村,4,N/A,,一般农户,是", "income", "N/A", "bad_amount"),
    (f"H1,{ID1},张三,镇,村,4,-100,,一般农户,是", "income", "-100", "bad_amount"),
    (f"H1,{ID1},张三,镇,村,4,9600,无,一般农户,是", "income_per_capita", "无", "bad_amount"),
    (f"H1,{ID1},张三,镇,村,4,9600,,低保户,是", "status", "低保户", "bad_status"),
    (f"H1,{ID1},张三,镇,村,4,9600,,,是", "status", "", "bad_status"),
    (f"H1,{ID1},张三,镇,村,4,9600,,一般农户,不确定", "housing_secure", "不确定", "bad_value"),
    (f",{ID1},张三,镇,村,4,9600,,一般农户,是", "household_id", "", "bad_value"),
])
def test_a_register_row_with_a_bad_value_is_rejected_naming_field_and_value(
        tmp_path: Path, line: str, field: str, value: str, reason: str) -> None:
    parsed = export(tmp_path, REGISTER, line)

    assert outcomes(parsed) == [(2, field, value, reason)]
    assert parsed.used == 0


@pytest.mark.parametrize(("line", "field", "value", "reason"), [
    (f"S1,{ID1},2019-02-30,100,0,0,0,", "date", "2019-02-30", "bad_date"),
    (f"S1,{ID1},2019-13-01,100,0,0,0,", "date", "2019-13-01", "bad_date"),
    (f"S1,{ID1},,100,0,0,0,", "date", "", "bad_date"),
    (f"S1,{ID1},2019-03-01,12.3.4,0,0,0,", "total", "12.3.4", "bad_amount"),
    (f"S1,{ID1},2019-03-01,100,0,0,0,-", "personal", "-", "bad_amount"),
    (f"S1,{ID1[:-1]},2019-03-01,100,0,0,0,", "id_number", ID1[:-1], "bad_id_number"),
])
def test_a_medical_row_with_a_bad_value_is_rejected(tmp_path: Path, line: str, field: str, value: str,
                                                    reason: str) -> None:
    assert outcomes(export(tmp_path, MEDICAL, line)) == [(2, field, value, reason)]


@pytest.mark.parametrize(("line", "field", "value", "reason"), [
    (f"E1,{ID1},幼儿园,全日制,6000,0,0,2019-09-01", "stage", "幼儿园", "bad_stage"),
    (f"E1,{ID1},,全日制,6000,0,0,2019-09-01", "stage", "", "bad_stage"),
    (f"E1,{ID1},本科,函授,6000,0,0,2019-09-01", "full_time", "函授", "bad_value"),
])
def test_an_education_row_with_an_unknown_code_is_rejected(tmp_path: Path, line: str, field: str, value: str,
                                                           reason: str) -> None:
    assert outcomes(export(tmp_path, EDUCATION, line)) == [(2, field, value, reason)]


def test_a_member_row_with_an_unknown_labour_string_is_rejected(tmp_path: Path) -> None:
    assert outcomes(export(tmp_path, MEMBERS, f"H1,{ID1},某,子女,全劳动力")) == [
        (2, "labour", "全劳动力", "bad_value")]


def test_the_first_defect_in_field_order_is_reported_whatever_the_column_order(tmp_path: Path) -> None:
    header = "个人负担,医疗救助支付,大病保险支付,基本医保支付,医疗总费用,结算日期,身份证号,结算单号"
    parsed = export(tmp_path, header,
                    f"x,0,0,0,abc,2019-02-30,{BAD_ID},S1",
                    f"x,0,0,0,abc,2019-02-30,{ID1},S2",
                    f"x,0,0,0,abc,2019-03-01,{ID1},S3",
                    f"x,0,0,0,100,2019-03-01,{ID1},S4",
                    "1,0,0,0,100,2019-03-01,{ID1},S5".replace("{ID1}", ID1))

    assert outcomes(parsed) == [
        (2, "id_number", BAD_ID, "bad_id_number"),
        (3, "date", "2019-02-30", "bad_date"),
        (4, "total", "abc", "bad_amount"),
        (5, "personal", "x", "bad_amount"),
        (6, "personal", "1", "inconsistent_amounts"),
    ]


# --- skipped rows and the count ------------------------------------------------------------------------

def test_titles_blank_rows_and_totals_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "医保.csv"
    path.write_bytes("\r\n".join([
        "某某县医保结算数据导出", "", MEDICAL,
        f"S1,{ID1},2019-03-02,100,0,0,0,",
        "",
        ",,,,,,,",
        f"S2,{BAD_ID},2019-03-02,100,0,0,0,",
        "合计,,,200,0,0,0,",
        "总 计,,,,,,,",
        "",
    ]).encode("gbk"))

    parsed = parse_export(path, PROFILES)

    assert parsed.header_row == 3
    assert parsed.outcomes["file"].unique().to_list() == ["医保.csv"]
    assert outcomes(parsed) == [
        (1, "", "", "title"), (2, "", "", "blank"), (5, "", "", "blank"), (6, "", "", "blank"),
        (7, "id_number", BAD_ID, "bad_id_number"), (8, "", "", "total"), (9, "", "", "total"),
    ]
    assert (parsed.rows_read, parsed.used, parsed.rejected, parsed.skipped) == (8, 1, 1, 6)


def test_a_row_with_only_unknown_columns_filled_is_blank(tmp_path: Path) -> None:
    parsed = export(tmp_path, MEDICAL + ",备注", ",,,,,,,,只有备注")

    assert outcomes(parsed) == [(2, "", "", "blank")]
    assert parsed.extra_columns == ("备注",)


row_kinds = st.lists(st.sampled_from(["good", "bad_id", "bad_amount", "blank", "empty", "total"]), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=row_kinds)
def test_every_row_read_is_used_rejected_or_skipped(tmp_path: Path, kinds: list[str]) -> None:
    lines = {
        "good": f"S,{ID1},2019-03-02,100,0,0,0,",
        "bad_id": f"S,{BAD_ID},2019-03-02,100,0,0,0,",
        "bad_amount": f"S,{ID1},2019-03-02,1e5,0,0,0,",
        "blank": ",,,,,,,",
        "empty": "",
        "total": "合计,,,100,,,,",
    }
    parsed = export(tmp_path, MEDICAL, *[lines[kind] for kind in kinds])

    assert parsed.rows_read == len(kinds)
    assert parsed.used == kinds.count("good")
    assert parsed.rejected == kinds.count("bad_id") + kinds.count("bad_amount")
    assert balanced(parsed)
    assert sorted([*parsed.rows["row"], *parsed.outcomes["row"]]) == list(range(2, 2 + len(kinds)))


def test_a_header_only_export_has_no_rows(tmp_path: Path) -> None:
    parsed = export(tmp_path, MEDICAL)

    assert (parsed.rows_read, parsed.used, parsed.outcomes.height) == (0, 0, 0)
    assert parsed.rows.schema == pl.Schema(output_schema(PROFILES["medical"]))


def _messy_medical(tmp_path: Path, encoding: str) -> Path:
    """A medical export of 200 rows in ``encoding``: a title, a blank line, amounts and dates in several
    forms, rejected rows with a line break inside a quoted field, blank rows, a total."""
    lines = ["标题", "", MEDICAL]
    for n in range(200):
        lines.append(f'S{n},{id_number(n)},2019年3月{1 + n % 28}日,"1,{n:03d}.50元",0,0,0,' if n % 7 else
                     f'S{n},{BAD_ID},2019-03-01,100,0,0,0,"{n}\r\n备注"' if n % 2 else ",,,,,,,")
    lines.append("合计,,,,,,,")
    path = tmp_path / "big.csv"
    path.write_bytes("\r\n".join(lines).encode(encoding))
    return path


def test_a_gbk_file_read_in_chunks_gives_what_it_gives_in_one_piece(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = _messy_medical(tmp_path, "gbk")
    whole = parse_export(path, PROFILES)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 97)

    chunked = parse_export(path, PROFILES)

    assert chunked.rows.equals(whole.rows)
    assert chunked.outcomes.equals(whole.outcomes)
    assert chunked.rows_read == whole.rows_read == 2 + 200 + 1  # a row with a line break in a cell is one row
    assert outcomes(chunked)[-1] == (3 + 200 + 14 + 1, "", "", "total")  # numbered by physical line
    assert balanced(chunked)


# --- headers -------------------------------------------------------------------------------------------

def test_a_missing_required_column_fails_naming_file_field_and_header(tmp_path: Path) -> None:
    with pytest.raises(MissingColumnError) as raised:
        export(tmp_path, "结算单号,身份证号,结算日期,医疗总费用,基本医保支付,医疗救助支付", name="yb.csv")

    assert raised.value.file == "yb.csv"
    assert raised.value.department == "medical"
    assert raised.value.missing == (("critical", "大病保险支付"),)
    assert "yb.csv" in str(raised.value) and "大病保险支付" in str(raised.value)


def test_a_register_without_either_income_column_fails(tmp_path: Path) -> None:
    with pytest.raises(MissingColumnError) as raised:
        export(tmp_path, "户编号,户主身份证号,户主姓名,乡镇,村,家庭人口数,户类型,住房安全有保障")

    assert [field for field, _ in raised.value.missing] == ["income", "income_per_capita"]


def test_a_file_of_no_department_is_unrecognised(tmp_path: Path) -> None:
    with pytest.raises(UnrecognisedFileError) as raised:
        export(tmp_path, "姓名,电话,地址", "张三,123,某村", name="通讯录.csv")

    assert raised.value.file == "通讯录.csv"


def test_headers_match_despite_spaces_full_width_forms_marks_and_units(tmp_path: Path) -> None:
    header = "\ufeff 结算单号 ,*身份证号,结算　日期,医疗总费用（元）,基本医保支付(元),大病保险支付,医疗救助支付"
    parsed = export(tmp_path, header, f"S1,{ID1},2019-03-02,100,0,0,0", encoding="utf-8")

    assert parsed.department == "medical"
    assert parsed.rows["total"].to_list() == [10000]
    assert parsed.headers["total"] == "医疗总费用（元）"


EXPORTS_ALIASES = {  # EXPORTS.md section 3, first alias canonical
    "register": {"household_id": ["户编号", "户码", "家庭编号"], "head_id": ["户主身份证号", "户主证件号码"],
                 "head_name": ["户主姓名"], "township": ["乡镇", "乡(镇)"], "village": ["村", "行政村"],
                 "members": ["家庭人口数", "家庭人口", "人口数"], "income": ["家庭年可支配收入", "家庭年收入"],
                 "income_per_capita": ["年人均可支配收入", "人均可支配收入"], "status": ["户类型", "户属性"],
                 "housing_secure": ["住房安全有保障", "住房安全"]},
    "members": {"household_id": ["户编号", "户码"], "id_number": ["身份证号", "证件号码"], "name": ["姓名"],
                "relation": ["与户主关系"], "labour": ["劳动技能", "劳动能力"]},
    "medical": {"settlement_id": ["结算单号", "结算流水号"], "id_number": ["身份证号", "参保人身份证号"],
                "date": ["结算日期", "出院日期"], "total": ["医疗总费用", "总费用"],
                "basic": ["基本医保支付", "统筹支付"], "critical": ["大病保险支付", "大病支付"],
                "assistance": ["医疗救助支付", "医疗救助"], "personal": ["个人负担", "个人自付"]},
    "education": {"record_id": ["缴费单号", "记录编号"], "id_number": ["学生身份证号", "身份证号"],
                  "stage": ["学段", "就读学段"], "full_time": ["就读方式", "学习形式"], "tuition": ["学费"],
                  "accommodation": ["住宿费"], "textbooks": ["教科书费", "教材费"], "date": ["缴费日期"]},
    "traffic": {"event_id": ["事故编号"], "id_number": ["当事人身份证号"], "date": ["事故日期"],
                "loss": ["财产损失金额", "财产损失"], "compensation": ["保险及第三方赔偿", "赔偿金额"]},
    "fire": {"event_id": ["火灾编号"], "id_number": ["户主身份证号", "身份证号"], "date": ["起火日期"],
             "loss": ["直接财产损失"], "compensation": ["保险赔偿"]},
    "disaster": {"event_id": ["灾情编号"], "id_number": ["身份证号"], "date": ["发生日期"], "loss": ["财产损失"],
                 "compensation": ["保险及救助赔偿"]},
    # docs/policy-monitoring.md section 6 (docs/exports.md section 5): the accident export
    "accident": {"event_id": ["事故编号", "报案号"], "id_number": ["伤者身份证号", "身份证号"],
                 "date": ["事故日期", "出险日期"], "loss": ["损失金额", "医疗及误工损失"],
                 "compensation": ["已获赔偿", "赔偿金额"]},
}


def test_the_shipped_profiles_hold_every_field_and_alias_of_the_exports_page_in_its_order() -> None:
    shipped = {profile.department: {spec.name: spec.headers for spec in profile.fields} for profile in PROFILES}

    assert shipped == EXPORTS_ALIASES
    assert [list(fields) for fields in shipped.values()] == [list(fields) for fields in EXPORTS_ALIASES.values()]


def test_a_county_profile_extending_an_unknown_field_is_refused(tmp_path: Path) -> None:
    (tmp_path / "medical.yaml").write_text("department: medical\nfields:\n  - name: cost\n    headers: [费用]\n",
                                           encoding="utf-8")

    with pytest.raises(ProfileError, match="cost"):
        load_profiles(tmp_path)


def test_a_countys_own_aliases_and_codes_are_added_without_code(tmp_path: Path) -> None:
    extra = tmp_path / "county"
    extra.mkdir()
    (extra / "medical.yaml").write_text(
        "department: medical\nfields:\n  - name: total\n    headers: [住院总费用]\n", encoding="utf-8")
    (extra / "register.yaml").write_text(
        "department: register\nfields:\n  - name: status\n    values: {监测户: never_registered}\n",
        encoding="utf-8")
    profiles = load_profiles(extra)

    medical = export(tmp_path, MEDICAL.replace("医疗总费用", "住院总费用"), f"S1,{ID1},2019-03-02,100,0,0,0,",
                     profiles=profiles)
    register = export(tmp_path, REGISTER, f"H1,{ID1},张三,镇,村,4,9600,,监测户,是", profiles=profiles)

    assert medical.rows["total"].to_list() == [10000]
    assert register.rows["status"].to_list() == ["never_registered"]
    assert "住院总费用" not in load_profiles()["medical"].field("total").headers


def test_identify_names_the_department_from_the_header_alone(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(f"标题\r\n{MEMBERS},备注\r\nH1,{ID1},某,子女,无劳动力,\r\n".encode("gbk"))

    found = identify_export(path, PROFILES)

    assert (found.department, found.header_row, found.extra_columns) == ("members", 2, ("备注",))
    assert found.headers["labour"] == "劳动技能"


# --- other forms ---------------------------------------------------------------------------------------

def test_full_width_values_in_a_gbk_file_are_read(tmp_path: Path) -> None:
    wide_id = "".join(chr(ord(ch) + 0xFEE0) for ch in ID1)
    parsed = export(tmp_path, MEDICAL, f"Ｓ１,\u3000{wide_id},２０１９年３月２日,１２，３４５．６７,0,0,0,")

    assert parsed.rows.select("settlement_id", "id_number", "date", "total").rows() == [
        ("Ｓ１", ID1, dt.date(2019, 3, 2), 1234567)]


def test_an_xlsx_export_with_number_and_date_cells_is_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "医保.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write(0, 0, "某某县医保结算数据导出")
    sheet.write_row(1, 0, MEDICAL.split(","))
    sheet.write_row(2, 0, ["S1", ID1])
    sheet.write_datetime(2, 2, dt.datetime(2019, 3, 2), date_format)
    for column, amount in zip(range(3, 8), [50000.005, 1999.99, 3000, 0, 45000.02], strict=True):
        sheet.write_number(2, column, amount)
    sheet.write_row(3, 0, ["S2", ID2, "2019/8/1"])
    sheet.write_number(3, 3, 123456789.0)
    sheet.write_row(5, 0, ["合计"])
    sheet.write_number(5, 3, 123506789.01)
    workbook.close()

    parsed = parse_export(path, PROFILES)

    assert parsed.encoding == "xlsx"
    assert parsed.rows.select("row", "date", "total", "basic", "critical", "burden").rows() == [
        (3, dt.date(2019, 3, 2), 5000001, 199999, 300000, 4500002),
        (4, dt.date(2019, 8, 1), 12345678900, 0, 0, 12345678900),
    ]
    assert outcomes(parsed) == [(1, "", "", "title"), (5, "", "", "blank"), (6, "", "", "total")]
    assert balanced(parsed)


def test_a_utf8_file_read_in_chunks_and_handed_to_a_sink_gives_what_it_gives_in_one_piece(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _messy_medical(tmp_path, "utf-8")
    whole = parse_export(path, PROFILES)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 97)
    handed: list[tuple[str, pl.DataFrame]] = []

    chunked = parse_export(path, PROFILES)
    sunk = parse_export(path, PROFILES, sink=lambda department, rows: handed.append((department, rows)))

    assert chunked.rows.equals(whole.rows) and chunked.outcomes.equals(whole.outcomes)
    assert len(handed) > 10  # one hand-over per chunk: the file is never held whole
    assert {department for department, _ in handed} == {"medical"}
    assert pl.concat([rows for _, rows in handed]).equals(whole.rows)
    assert sunk.rows.is_empty() and sunk.rows.schema == whole.rows.schema
    assert sunk.outcomes.equals(whole.outcomes)
    assert (sunk.rows_read, sunk.used, sunk.rejected, sunk.skipped) == (
        whole.rows_read, whole.used, whole.rejected, whole.skipped)
    assert whole.used == whole.rows.height > 0
    assert balanced(sunk)
