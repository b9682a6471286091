"""Synthetic county data drops, exactly to the export contract (docs: policy/EXPORTS.md).

``generate_drop(out_dir, households, seed=...)`` writes the seven department files of one
county's drop (household register, member register, medical settlements, education payments,
traffic accidents, fires, natural disasters) into ``out_dir`` and a manifest *beside* it
(``<out_dir>.manifest.json``, never inside the drop folder) that says, per file, what a correct
screener must find: rows read, the skipped rows (title, blank, total) and every rejected row with
its reason code and row number, plus the corrections (same event id, new content, later row).
It also carries the decisions a correct screener must return under the default 2019 pack
(SPEC.md), computed here independently in integer fen.

Everything is drawn from one seed, so a drop is byte-for-byte reproducible. The heavy lifting is
vectorised with numpy and polars: a million households (about nine million rows) take well
under two minutes. Only the standard library, numpy, polars and xlsxwriter are imported.

Ground rules the generator keeps so that the manifest is unambiguous:

* one defect per bad row, except the rows listed with ``also`` (two column defects, the first
  in the column order of EXPORTS.md is the expected reason);
* rows of a household whose register row is rejected are never given any other defect: its
  member rows are expected as ``unknown_household`` and its people's events as
  ``unknown_person``;
* bad member rows are only injected for people with no events, and never where they would
  change a household's labour capacity;
* event ids are unique per row (one person per event id), so a repeated id is always either an
  identical duplicate or a correction;
* every natural event is dated inside the policy year; ``outside_policy_year`` rows are injected;
* blank lines sit strictly between data rows, title lines strictly above the header and the
  totals row is the last line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "DEMO_SPECS",
    "DEPARTMENTS",
    "XLSX_MAX_HOUSEHOLDS",
    "DropManifest",
    "FileManifest",
    "generate_demo",
    "generate_drop",
]

GENERATOR_VERSION = 1
XLSX_MAX_HOUSEHOLDS = 20_000
"""Above this many households no file is written as .xlsx (auto formats)."""
EXPECTED_DECISIONS_MAX_HOUSEHOLDS = 20_000
"""Above this many households the manifest carries only a summary of the expected decisions."""

DEPARTMENTS = ("household_register", "members", "medical", "education", "traffic", "fire", "disaster")
EVENT_DEPARTMENTS = ("medical", "education", "traffic", "fire", "disaster")
FORMATS = ("gbk", "utf8", "utf8-bom", "xlsx")

# field, kind, header aliases (the first is canonical): EXPORTS.md section 3, in its column order.
FIELDS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "household_register": (
        ("household_id", "text", ("户编号", "户码", "家庭编号")),
        ("head_id", "id", ("户主身份证号", "户主证件号码")),
        ("head_name", "text", ("户主姓名",)),
        ("township", "text", ("乡镇", "乡(镇)")),
        ("village", "text", ("村", "行政村")),
        ("members", "int", ("家庭人口数", "家庭人口", "人口数")),
        ("income", "amount", ("家庭年可支配收入", "家庭年收入")),
        ("income_per_capita", "amount", ("年人均可支配收入", "人均可支配收入")),
        ("status", "text", ("户类型", "户属性")),
        ("housing_secure", "text", ("住房安全有保障", "住房安全")),
    ),
    "members": (
        ("household_id", "text", ("户编号", "户码")),
        ("id_number", "id", ("身份证号", "证件号码")),
        ("name", "text", ("姓名",)),
        ("relation", "text", ("与户主关系",)),
        ("labour", "text", ("劳动技能", "劳动能力")),
    ),
    "medical": (
        ("settlement_id", "text", ("结算单号", "结算流水号")),
        ("id_number", "id", ("身份证号", "参保人身份证号")),
        ("date", "date", ("结算日期", "出院日期")),
        ("total", "amount", ("医疗总费用", "总费用")),
        ("basic", "amount", ("基本医保支付", "统筹支付")),
        ("critical", "amount", ("大病保险支付", "大病支付")),
        ("assistance", "amount", ("医疗救助支付", "医疗救助")),
        ("personal", "amount", ("个人负担", "个人自付")),
    ),
    "education": (
        ("record_id", "text", ("缴费单号", "记录编号")),
        ("id_number", "id", ("学生身份证号", "身份证号")),
        ("stage", "text", ("学段", "就读学段")),
        ("full_time", "text", ("就读方式", "学习形式")),
        ("tuition", "amount", ("学费",)),
        ("accommodation", "amount", ("住宿费",)),
        ("textbooks", "amount", ("教科书费", "教材费")),
        ("date", "date", ("缴费日期",)),
    ),
    "traffic": (
        ("event_id", "text", ("事故编号",)),
        ("id_number", "id", ("当事人身份证号",)),
        ("date", "date", ("事故日期",)),
        ("loss", "amount", ("财产损失金额", "财产损失")),
        ("compensation", "amount", ("保险及第三方赔偿", "赔偿金额")),
    ),
    "fire": (
        ("event_id", "text", ("火灾编号",)),
        ("id_number", "id", ("户主身份证号", "身份证号")),
        ("date", "date", ("起火日期",)),
        ("loss", "amount", ("直接财产损失",)),
        ("compensation", "amount", ("保险赔偿",)),
    ),
    "disaster": (
        ("event_id", "text", ("灾情编号",)),
        ("id_number", "id", ("身份证号",)),
        ("date", "date", ("发生日期",)),
        ("loss", "amount", ("财产损失",)),
        ("compensation", "amount", ("保险及救助赔偿",)),
    ),
}
KEY_FIELD = {
    "household_register": "household_id",
    "members": "id_number",
    "medical": "settlement_id",
    "education": "record_id",
    "traffic": "event_id",
    "fire": "event_id",
    "disaster": "event_id",
}
ALL_ALIASES = frozenset(a for spec in FIELDS.values() for _, _, al in spec for a in al)
# 姓名 is the member register's name column; event exports carry it too (an unknown column there).
_EXTRA_ALIAS_OK = frozenset({"姓名"})

# Reasons injected per file (cascaded unknown_household / unknown_person come on top).
REASONS: dict[str, tuple[str, ...]] = {
    "household_register": (
        "bad_id_number", "bad_members", "bad_amount", "bad_status", "bad_value", "duplicate_household",
    ),
    "members": ("bad_id_number", "bad_value", "duplicate_person", "unknown_household"),
    "medical": (
        "bad_id_number", "bad_date", "bad_amount", "inconsistent_amounts", "duplicate_event",
        "unknown_person", "outside_policy_year",
    ),
    "education": (
        "bad_id_number", "bad_stage", "bad_value", "bad_amount", "bad_date", "duplicate_event",
        "unknown_person", "outside_policy_year",
    ),
    "traffic": ("bad_id_number", "bad_date", "bad_amount", "duplicate_event", "unknown_person", "outside_policy_year"),
    "fire": ("bad_id_number", "bad_date", "bad_amount", "duplicate_event", "unknown_person", "outside_policy_year"),
    "disaster": ("bad_id_number", "bad_date", "bad_amount", "duplicate_event", "unknown_person", "outside_policy_year"),
}
# Column-level defects: reason -> candidate fields (per department, see _defect_fields).
_COLUMN_REASONS = ("bad_id_number", "bad_members", "bad_amount", "bad_status", "bad_value", "bad_stage", "bad_date")

FILE_NAMES = {
    "household_register": ("防贫对象底册", "{county_name}防贫对象花名册", "农户基础信息台账"),
    "members": ("家庭成员", "家庭成员信息表", "人口信息"),
    "medical": ("医保结算明细", "{year}年医保结算数据", "城乡居民医保一站式结算"),
    "education": ("教育缴费", "学生资助缴费明细", "教育局学生缴费台账"),
    "traffic": ("交通事故", "交警事故当事人信息"),
    "fire": ("火灾", "消防火灾统计"),
    "disaster": ("自然灾害", "灾情统计", "应急灾情核查"),
}
TITLES = {
    "household_register": ("{county_name}{year}年防贫对象底册", "{county_name}农户收入及家庭情况台账"),
    "members": ("{county_name}防贫对象家庭成员信息", "家庭成员花名册"),
    "medical": ("{county_name}医保结算数据导出", "{county_name}城乡居民医保结算明细（{year}年度）"),
    "education": ("{county_name}教育局学生缴费信息", "{year}年学生缴费明细"),
    "traffic": ("{county_name}公安交警大队事故当事人信息", "交通事故财产损失统计"),
    "fire": ("{county_name}消防救援大队火灾统计", "火灾直接财产损失统计表"),
    "disaster": ("{county_name}应急管理局灾情统计", "{year}年自然灾害损失核查表"),
}
SUBTITLES = ("导出时间：{export_date}", "单位：元", "数据来源：{dept_name}", "制表日期：{export_date}")
DEPT_NAMES = {
    "household_register": "县防贫办",
    "members": "县防贫办",
    "medical": "县医疗保障局",
    "education": "县教育局",
    "traffic": "县公安局交警大队",
    "fire": "县消防救援大队",
    "disaster": "县应急管理局",
}
COUNTY_NAMES = {"130434": "魏县"}

TOWNSHIPS = (
    "魏城镇", "德政镇", "北皋镇", "双井镇", "牙里镇", "车往镇", "回隆镇", "张二庄镇", "东代固镇", "院堡镇",
    "棘针寨乡", "南双庙乡", "沙口集乡", "野胡拐乡", "仕望集乡", "前大磨乡", "大辛庄乡", "大马村乡", "边马乡",
    "泊口乡", "北台头乡",
)
_VILLAGE_PRE = ("", "", "", "东", "西", "南", "北", "前", "后", "大", "小", "中")
_VILLAGE_CORE = (
    "王", "李", "张", "刘", "赵", "孙", "马", "杨", "何", "高", "郭", "韩", "申", "魏", "霍", "崔", "梁", "冯",
    "段", "岳", "柳", "桑", "槐", "枣", "杏", "石", "河", "井", "屯", "旺", "庙", "堤", "寨", "营",
)
_VILLAGE_SUF = ("庄", "家庄", "屯", "寨", "营", "集", "堡", "固", "口", "店", "町", "辛庄", "")

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "胡", "朱", "郭", "何", "罗",
    "高", "林", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹", "袁", "邓", "许", "傅",
    "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛", "叶", "阎", "申", "霍", "崔", "段",
)
_SURNAME_W = np.array([8 if i < 12 else 4 if i < 30 else 2 for i in range(len(SURNAMES))], dtype=float)
GIVEN_M = (
    "建", "国", "军", "伟", "强", "磊", "勇", "明", "杰", "涛", "超", "刚", "平", "辉", "志", "海", "文", "斌",
    "波", "鹏", "宇", "浩", "俊", "凯", "晨", "鑫", "振", "春", "永", "福", "庆", "林", "华", "东", "红", "卫",
)
GIVEN_F = (
    "秀", "英", "芳", "丽", "敏", "静", "燕", "霞", "娟", "艳", "玲", "桂", "兰", "红", "梅", "琳", "婷", "雪",
    "慧", "欣", "悦", "佳", "莉", "萍", "娜", "颖", "倩", "月", "云", "凤", "荣", "翠", "春", "爱", "美", "珍",
)

# Region codes (GB/T 2260) valid for the birth years they are used with (checked against
# python-stdnum's table in the tests): Handan's counties were 1321xx before 1993 and 1304xx since.
REGIONS_OLD = (132122, 132121, 132123, 132124, 132128, 132129, 132135)  # valid up to 1993
REGIONS_NEW = (130434, 130425, 130435, 130430, 130433, 130423, 130424)  # valid from 1993
REGIONS_OTHER = (
    110105, 110108, 120103, 310104, 310107, 330122, 340121, 350121, 360121, 430121, 510121, 610324, 620121,
)
_LOCAL_W = np.array([0.55] + [0.075] * 6)

_RELATIONS = (
    "户主", "本人", "配偶", "夫", "妻", "之子", "儿子", "长子", "次子", "之女", "女儿", "长女", "次女", "孙子", "孙女",
    "父亲", "母亲",
)
LABOUR = ("技能劳动力", "普通劳动力", "弱劳动力或半劳动力", "丧失劳动力", "无劳动力")  # first three: able
STATUS_EXITED, STATUS_NEVER, STATUS_POOR = 0, 1, 2
STATUS_TEXTS = {
    STATUS_EXITED: (("脱贫户",), (1.0,)),
    STATUS_NEVER: (("一般农户", "边缘户", "非贫困户"), (0.5, 0.3, 0.2)),
    STATUS_POOR: (("未脱贫户", "贫困户"), (0.6, 0.4)),
}
_STATUS_ALL = tuple(t for texts, _ in STATUS_TEXTS.values() for t in texts)
HOUSING_TEXTS = (("是", "否"), ("Y", "N"), ("1", "0"))
COMPULSORY = ("小学", "初中")
STAGES_HIGH = ("普通高中", "高中")
STAGES_VOC = ("中职", "中等职业教育")
STAGES_COLLEGE = ("高职", "大专", "专科", "本科")
STAGES_POST = ("研究生", "硕士", "博士")

BAD_AMOUNT_TEXTS = ("N/A", "-", "无", "--", "待核实", "#N/A", "不详")
BAD_MEMBERS_TEXTS = ("0", "-1", "2.5", "三", "N/A", "0.5")
BAD_STATUS_TEXTS = ("已脱贫", "低保户", "五保户", "脱贫", "监测户", "特困户", "非建档立卡户")
BAD_HOUSING_TEXTS = ("有", "安全", "不详", "待核", "基本安全")
BAD_LABOUR_TEXTS = ("一般劳动力", "劳动力", "无劳力", "半劳力", "不详", "部分丧失劳动力")
BAD_FULL_TIME_TEXTS = ("全职", "脱产", "业余", "函授", "是")
BAD_STAGE_TEXTS = ("幼儿园", "学前", "高三", "大学", "职高", "技校", "中专")

EXTRAS: dict[str, tuple[str, ...]] = {
    "household_register": ("序号", "联系电话", "备注", "帮扶责任人", "组别"),
    "members": ("序号", "性别", "年龄", "文化程度", "健康状况", "备注"),
    "medical": ("序号", "患者姓名", "姓名", "医疗机构名称", "就诊类型", "疾病名称", "经办机构"),
    "education": ("序号", "学生姓名", "学校名称", "年级", "备注"),
    "traffic": ("序号", "当事人姓名", "事故地点", "事故类型", "责任认定"),
    "fire": ("序号", "起火地点", "起火原因", "备注", "当事人姓名"),
    "disaster": ("序号", "姓名", "灾害类型", "受灾村组", "核查人"),
}
HOSPITALS = ("魏县人民医院", "魏县中医院", "邯郸市第一医院", "邯郸市中心医院", "河北医科大学第二医院", "乡镇卫生院")
DISEASES = ("高血压", "糖尿病", "脑梗塞", "冠心病", "肺炎", "骨折", "恶性肿瘤", "慢性肾病", "白内障", "阑尾炎")
SCHOOLS = (
    "魏县第一中学", "魏县第五中学", "魏县职教中心", "邯郸学院", "河北工程大学", "石家庄职业技术学院", "东代固中学",
)
PLACES = ("106国道", "魏大线", "村内道路", "县城", "乡道")
ACCIDENTS = ("追尾", "侧翻", "刮擦", "碰撞")
LIABILITY = ("全部责任", "主要责任", "同等责任", "次要责任", "无责任")
FIRE_PLACES = ("住宅", "厨房", "柴草垛", "仓房", "院落")
FIRE_CAUSES = ("电气线路", "用火不慎", "秸秆焚烧", "其他")
DISASTERS = ("洪涝", "冰雹", "风灾", "干旱", "暴雨")
EDU_LEVELS = ("小学", "初中", "高中", "大专", "本科", "文盲")
HEALTH = ("健康", "长期慢性病", "大病", "残疾")

_FW_FROM = list("0123456789")
_FW_TO = [chr(0xFF10 + i) for i in range(10)]
_CHECK_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = "10X98765432"


# ----------------------------------------------------------------------------------------------
# Manifest
# ----------------------------------------------------------------------------------------------


@dataclass
class FileManifest:
    """What a correct screener finds in one file (row numbers are 1-based physical rows)."""

    name: str
    department: str
    format: str  # "csv" | "xlsx"
    encoding: str | None  # "gb18030" | "utf-8" | "utf-8-sig"; None for xlsx
    sheet: str | None
    header_row: int
    columns: list[dict[str, str | None]]  # [{"header": ..., "field": canonical or None (extra)}]
    rows_read: int  # every line / sheet row but the header
    rows_used: int
    rows_rejected: int
    rows_skipped: int
    skipped: dict[str, list[int]]  # title / blank / total -> rows
    rejected: dict[str, list[int]]  # reason -> rows
    rejected_rows: list[dict[str, Any]]  # {"row", "reason", "field"[, "also"]}
    corrections: list[dict[str, Any]]  # {"row", "replaces_row", "id"}


@dataclass
class DropManifest:
    generator: str
    version: int
    seed: int
    year: int
    county: str
    households: int
    bad_share: float
    correction_share: float
    messy: bool
    drop: str  # the drop folder's name
    files: list[FileManifest]
    totals: dict[str, Any]
    expected: dict[str, Any]
    designed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["files"] = [{g.name: getattr(f, g.name) for g in dataclasses.fields(f)} for f in self.files]
        return d

    def to_json(self) -> str:
        d = self.to_dict()
        d.pop("seconds", None)  # keep the written manifest deterministic
        # indented when small; compact (C encoder, fast) for big drops
        indent = 1 if self.households <= EXPECTED_DECISIONS_MAX_HOUSEHOLDS else None
        return json.dumps(d, ensure_ascii=False, indent=indent) + "\n"

    def file(self, department: str) -> FileManifest:
        for f in self.files:
            if f.department == department:
                return f
        raise KeyError(department)


# ----------------------------------------------------------------------------------------------
# Designed households (the demo drop)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdSpec:
    """A household with fixed facts; amounts in yuan as strings, read exactly."""

    label: str
    intent: str
    status: str  # the register's text: 脱贫户, 一般农户, 边缘户, 未脱贫户, ...
    members: int
    income: str | None = None  # household total
    per_capita: str | None = None  # or this
    labour: bool = True  # any member able to work
    housing_secure: bool = True
    illness: tuple[str, ...] = ()  # personal burdens, one settlement each
    schooling: tuple[tuple[str, str, str, str, str], ...] = ()  # stage, 全日制/非全日制, tuition, accom, books
    disaster: tuple[tuple[str, str, str], ...] = ()  # traffic|fire|disaster, loss, compensation


DEMO_SPECS: tuple[HouseholdSpec, ...] = (
    HouseholdSpec("illness_edge", "edge, illness 30000+15000 -> excess 25000 -> 13000.00 (SPEC ex. 1)",
                  "一般农户", 4, income="17600.00", illness=("30000.00", "15000.00")),
    HouseholdSpec("illness_exit", "unstable_exit, illness 12345.67 -> 3672.84 (SPEC ex. 2)",
                  "脱贫户", 3, income="13500.00", illness=("12345.67",)),
    HouseholdSpec("schooling_exit", "unstable_exit, senior high 8300 + compulsory 1200 -> 150.00 (SPEC ex. 4)",
                  "脱贫户", 4, per_capita="4500.00",
                  schooling=(("普通高中", "全日制", "6000", "1500", "800"), ("初中", "全日制", "0", "1000", "200"))),
    HouseholdSpec("schooling_edge", "edge, 本科 12000+6500 (and a 非全日制 row) -> excess 10500 -> 5300.00",
                  "边缘户", 4, per_capita="4000.00",
                  schooling=(("本科", "全日制", "9000", "1200", "1800"), ("高职", "全日制", "5000", "1000", "500"),
                             ("大专", "非全日制", "3000", "0", "400"))),
    HouseholdSpec("disaster_edge", "edge, fire own loss 36000 -> 13000.00 (SPEC ex. 5)",
                  "非贫困户", 3, per_capita="4000.00", disaster=(("fire", "36000", "0"),)),
    HouseholdSpec("disaster_exit", "unstable_exit, flood 30000-5000 + traffic 8000-10000 (own 0) -> 7500.00",
                  "脱贫户", 3, per_capita="3800.00",
                  disaster=(("disaster", "30000", "5000"), ("traffic", "8000", "10000"))),
    HouseholdSpec("refer_dibao", "edge, no labour, housing secure, illness 60000 -> refer_dibao (SPEC ex. 6)",
                  "一般农户", 2, per_capita="4000.00", labour=False, housing_secure=True, illness=("60000.00",)),
    HouseholdSpec("exactly_4800", "never registered, income 9600 / 2 = 4800.00 -> not_covered (SPEC ex. 3)",
                  "一般农户", 2, income="9600.00", illness=("50000.00",)),
    HouseholdSpec("registered_poor", "registered poor, 2900 per capita, illness 80000 -> not_covered (SPEC ex. 7)",
                  "未脱贫户", 3, per_capita="2900.00", illness=("80000.00",)),
    HouseholdSpec("just_below", "edge, 14399.97 / 3 = 4799.99, illness 25000 -> 2500.00",
                  "边缘户", 3, income="14399.97", illness=("25000.00",)),
    HouseholdSpec("rounds_to_4800", "edge, 14399.99 / 3 = 4799.9967 -> 4800.00 -> not_covered",
                  "边缘户", 3, income="14399.99", illness=("40000.00",)),
    HouseholdSpec("illness_cap", "edge, illness 400000 -> capped 100000.00, fee 15000.00 (SPEC ex. 9)",
                  "一般农户", 4, per_capita="4000.00", illness=("150000.00", "250000.00")),
    HouseholdSpec("below_deductible", "unstable_exit, illness 3000 -> below_deductible",
                  "脱贫户", 2, per_capita="4600.00", illness=("3000.00",)),
    HouseholdSpec("no_labour_unsafe_housing", "unstable_exit, no labour, housing not secure, illness 15000 -> 5000.00",
                  "脱贫户", 2, per_capita="3500.00", labour=False, housing_secure=False, illness=("15000.00",)),
    HouseholdSpec("three_causes",
                  "unstable_exit, illness 9000 + schooling 9000 + disaster 12000 -> 3500.00, fee 525.00",
                  "脱贫户", 4, per_capita="4200.00", illness=("9000.00",),
                  schooling=(("中职", "全日制", "2000", "800", "200"),
                             ("中等职业教育", "全日制", "5000", "800", "200")),
                  disaster=(("disaster", "12000", "0"),)),
)


def _yuan_to_fen(s: str) -> int:
    whole, _, frac = s.partition(".")
    frac = (frac + "00")[:2]
    return int(whole) * 100 + int(frac)


def _fen_str(f: int) -> str:
    sign = "-" if f < 0 else ""
    f = abs(int(f))
    return f"{sign}{f // 100}.{f % 100:02d}"


def _half_up_div(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """round_half_up(num / den) for non-negative integers."""
    return (2 * num + den) // (2 * den)


# ----------------------------------------------------------------------------------------------
# The world: households and people
# ----------------------------------------------------------------------------------------------


@dataclass
class _World:
    n: int
    year: int
    county: str
    hh_id: pl.Series
    members: np.ndarray
    listed: np.ndarray
    first: np.ndarray
    status: np.ndarray  # STATUS_*
    status_txt: pl.Series
    income_fen: np.ndarray
    pc_fen: np.ndarray  # per capita as the register's own per-capita column shows it
    housing: np.ndarray  # bool
    township: pl.Series
    village: pl.Series
    designed: np.ndarray  # bool per household
    designed_slots: list[int]
    # people (households' people first, then outsiders)
    n_people: int  # people in households
    p_hh: np.ndarray  # -1 for outsiders
    p_pos: np.ndarray
    p_age: np.ndarray
    p_sex: np.ndarray
    p_labour: np.ndarray  # index into LABOUR
    p_id: pl.Series
    p_name: pl.Series
    p_rel: pl.Series
    next_outsider: int = 0

    def take_outsiders(self, k: int) -> np.ndarray:
        start = self.n_people + self.next_outsider
        if self.next_outsider + k > len(self.p_hh) - self.n_people:
            raise RuntimeError("outsider pool exhausted")
        self.next_outsider += k
        return np.arange(start, start + k)


def _choice_idx(rng: np.random.Generator, n: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.cumsum(np.asarray(weights, dtype=float))
    idx = np.searchsorted(w / w[-1], rng.random(n), side="right")
    return np.minimum(idx, len(w) - 1)


def _pick(values: Sequence[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(idx)


_DAY0 = np.datetime64("1850-01-01")
_DAYS = _DAY0 + np.arange(0, 365 * 300, dtype=np.int64)
_DAYS_Y = _DAYS.astype("datetime64[Y]").astype(np.int64) + 1970
_DAYS_M = _DAYS.astype("datetime64[M]").astype(np.int64) % 12 + 1
_DAYS_D = (_DAYS - _DAYS.astype("datetime64[M]")).astype(np.int64) + 1


def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = (d - _DAY0).astype(np.int64)
    return _DAYS_Y[i], _DAYS_M[i], _DAYS_D[i]


def _ids_for(
    rng: np.random.Generator, year: int, age: np.ndarray, sex: np.ndarray, local: np.ndarray
) -> tuple[pl.Series, np.ndarray]:
    """Unique, valid 18-character ID numbers (GB 11643) and the birth dates they carry."""
    m = len(age)
    birth_year = year - age
    start = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    ndays = np.where((birth_year % 4 == 0) & ((birth_year % 100 != 0) | (birth_year % 400 == 0)), 366, 365)
    birth = start + (rng.random(m) * ndays).astype(np.int64)
    by, bm, bd = _ymd(birth)
    ymd = by * 10000 + bm * 100 + bd
    old = np.array(REGIONS_OLD)[_choice_idx(rng, m, _LOCAL_W)]
    new = np.array(REGIONS_NEW)[_choice_idx(rng, m, _LOCAL_W)]
    other = np.array(REGIONS_OTHER)[rng.integers(0, len(REGIONS_OTHER), m)]
    use_new = (by > 1993) | ((by == 1993) & (rng.random(m) < 0.5))
    region = np.where(local, np.where(use_new, new, old), other).astype(np.int64)
    key = (region * 100_000_000 + ymd) * 2 + sex
    # rank of each person among those sharing region, birth date and sex (in input order)
    rank = pl.DataFrame({"k": key}).select(pl.int_range(pl.len(), dtype=pl.Int64).over("k")).to_series().to_numpy()
    if m and rank.max() >= 500:
        raise RuntimeError("too many people share a region and birth date")
    base = (key % 1_000_003) * 7919 % 500 * 2
    seq = (base + 2 * rank + sex) % 1000
    id17 = region * 100_000_000_000 + ymd * 1000 + seq
    # weighted digit sum, piecewise: region (6 digits), birth date (8), sequence (3)
    s = np.zeros(m, dtype=np.int64)
    uniq = np.array(sorted(set(REGIONS_OLD) | set(REGIONS_NEW) | set(REGIONS_OTHER)), dtype=np.int64)
    reg_sum = np.array([sum(int(c) * int(wt) for c, wt in zip(str(u), _CHECK_W[:6], strict=True)) for u in uniq])
    s += reg_sum[np.searchsorted(uniq, region)]
    for part, weights in ((ymd, _CHECK_W[6:14]), (seq, _CHECK_W[14:17])):
        rest = part.copy()
        for wt in weights[::-1]:
            s += (rest % 10) * int(wt)
            rest //= 10
    chk = (12 - s % 11) % 11
    chk_s = pl.Series(list("0123456789X"), dtype=pl.String)  # value 10 is written X
    ids = pl.Series(id17).cast(pl.String) + chk_s.gather(chk)
    return ids, birth


_GIVEN = GIVEN_M + GIVEN_F + ("",)


def _names(rng: np.random.Generator, surname_idx: np.ndarray, sex: np.ndarray) -> pl.Series:
    m = len(sex)
    two = rng.random(m) < 0.7
    male = sex == 1
    nm = len(GIVEN_M)
    g1 = np.where(male, rng.integers(0, nm, m), nm + rng.integers(0, len(GIVEN_F), m))
    g2 = np.where(male, rng.integers(0, nm, m), nm + rng.integers(0, len(GIVEN_F), m))
    g2 = np.where(two, g2, len(_GIVEN) - 1)
    return pl.select(
        pl.concat_str([pl.lit(_pick(SURNAMES, surname_idx)), pl.lit(_pick(_GIVEN, g1)), pl.lit(_pick(_GIVEN, g2))])
    ).to_series()


def _make_world(
    rng: np.random.Generator, n: int, year: int, county: str, specs: Sequence[HouseholdSpec], n_outsiders: int
) -> _World:
    if n < 1:
        raise ValueError("households must be >= 1")
    if len(specs) > n:
        raise ValueError("more designed households than households")
    width = max(6, len(str(n)))
    hh_id = pl.select(
        pl.lit(f"{county}-") + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(width)
    ).to_series()

    members = rng.choice(np.arange(1, 7), size=n, p=[0.08, 0.2, 0.22, 0.25, 0.15, 0.1])
    missing = (members >= 2) & (rng.random(n) < 0.04)
    status = _choice_idx(rng, n, (0.30, 0.55, 0.15))
    housing = rng.random(n) < 0.88
    # per capita income (fen) around the 4800 line
    u = rng.random(n)
    pc_target = np.where(
        u < 0.62,
        np.clip(rng.normal(520_000, 140_000, n), 60_000, 2_000_000),
        rng.uniform(400_000, 560_000, n),
    ).astype(np.int64)
    v = rng.random(n)
    pc_target = np.where(v < 0.03, 480_000, pc_target)
    pc_target = np.where((v >= 0.03) & (v < 0.05), 479_999, pc_target)
    pc_target = np.where((v >= 0.05) & (v < 0.06), 480_001, pc_target)
    rem = (rng.random(n) * members).astype(np.int64)
    rem = np.where(v < 0.06, 0, rem)
    income = pc_target * members + rem
    edge_round = (v >= 0.06) & (v < 0.065) & (members >= 2)  # (4800*m - 0.01) / m rounds up to 4800.00
    income = np.where(edge_round, 480_000 * members - 1, income)

    slots = [int(i * n // len(specs)) for i in range(len(specs))] if specs else []
    designed = np.zeros(n, dtype=bool)
    spec_status = {"脱贫户": STATUS_EXITED, "未脱贫户": STATUS_POOR, "贫困户": STATUS_POOR}
    status_txt_over: dict[int, str] = {}
    for slot, sp in zip(slots, specs, strict=True):
        designed[slot] = True
        members[slot] = sp.members
        missing[slot] = False
        status[slot] = spec_status.get(sp.status, STATUS_NEVER)
        status_txt_over[slot] = sp.status
        housing[slot] = sp.housing_secure
        if sp.income is not None:
            income[slot] = _yuan_to_fen(sp.income)
        else:
            assert sp.per_capita is not None
            income[slot] = _yuan_to_fen(sp.per_capita) * sp.members
    pc_fen = _half_up_div(income, members)

    st_code = np.zeros(n, dtype=np.int64)
    for code, (texts, w_) in STATUS_TEXTS.items():
        mask = status == code
        offs = np.array([_STATUS_ALL.index(t) for t in texts])
        st_code[mask] = offs[_choice_idx(rng, int(mask.sum()), w_)]
    for slot, txt in status_txt_over.items():
        st_code[slot] = _STATUS_ALL.index(txt)
    status_txt = _pick(_STATUS_ALL, st_code)

    # villages: contiguous blocks of about 150 households
    n_vill = max(min(n, 4), n // 150)
    vill_of_hh = (np.arange(n) * n_vill) // n
    v_town = rng.integers(0, len(TOWNSHIPS), n_vill)
    vn = (
        _pick(_VILLAGE_PRE, rng.integers(0, len(_VILLAGE_PRE), n_vill))
        + _pick(_VILLAGE_CORE, rng.integers(0, len(_VILLAGE_CORE), n_vill))
        + _pick(_VILLAGE_SUF, rng.integers(0, len(_VILLAGE_SUF), n_vill))
        + "村"
    )
    township = _pick(TOWNSHIPS, v_town[vill_of_hh])
    village = vn.gather(vill_of_hh)

    listed = members - missing
    P = int(listed.sum())
    first = np.cumsum(listed) - listed
    p_hh = np.repeat(np.arange(n), listed)
    p_pos = np.arange(P) - first[p_hh]
    h_listed = listed[p_hh]
    r = rng.random(P)
    head_age_h = np.where(listed == 1, 45 + rng.integers(0, 46, n), 26 + rng.integers(0, 50, n))
    head_age = head_age_h[p_hh]
    # roles: 0 head, 1 spouse, 2 child, 3 grandchild, 4 elder parent
    role = np.full(P, 2, dtype=np.int64)
    role[p_pos == 0] = 0
    role[(p_pos == 1) & (r < 0.85)] = 1
    elder = (p_pos >= 2) & (p_pos == h_listed - 1) & (head_age < 62) & (rng.random(P) < 0.25)
    role[elder] = 4
    age = np.where(role == 0, head_age, 0)
    age = np.where(role == 1, np.clip(head_age + rng.integers(-5, 5, P), 20, 95), age)
    child_age = np.clip(head_age - rng.integers(20, 38, P), 0, None)
    grand = (role == 2) & (head_age >= 58) & (rng.random(P) < 0.5)
    child_age = np.where(grand, np.clip(head_age - rng.integers(45, 62, P), 0, None), child_age)
    role[grand] = 3
    age = np.where((role == 2) | (role == 3), child_age, age)
    age = np.where(role == 4, np.minimum(head_age + rng.integers(20, 30, P), 96), age)
    head_sex = (rng.random(n) < 0.88).astype(np.int64)
    sex = rng.integers(0, 2, P)
    sex = np.where(role == 0, head_sex[p_hh], sex)
    sex = np.where(role == 1, 1 - head_sex[p_hh], sex)

    # labour by age
    lab = np.full(P, 4, dtype=np.int64)
    a = age
    m1 = (a >= 16) & (a <= 22)
    lab[m1] = np.where(rng.random(int(m1.sum())) < 0.5, 1, 4)
    m2 = (a >= 23) & (a <= 59)
    lab[m2] = _choice_idx(rng, int(m2.sum()), (0.25, 0.58, 0.08, 0.06, 0.03))
    m3 = (a >= 60) & (a <= 69)
    lab[m3] = _choice_idx(rng, int(m3.sum()), (0.03, 0.25, 0.42, 0.2, 0.1))
    m4 = a >= 70
    lab[m4] = _choice_idx(rng, int(m4.sum()), (0.001, 0.03, 0.15, 0.5, 0.319))

    # designed households: ages that fit their story, labour as specified
    for slot, sp in zip(slots, specs, strict=True):
        f0, k = int(first[slot]), int(listed[slot])
        idx = np.arange(f0, f0 + k)
        if sp.labour:
            age[idx[0]] = 46
            lab[idx[0]] = 1
            role[idx[0]] = 0
            for j, i in enumerate(idx[1:]):
                role[i] = 1 if j == 0 else 2
                age[i] = 44 if j == 0 else 14 + 3 * j
                lab[i] = 1 if j == 0 else 4
            if sp.schooling:
                for j, (stage, *_rest) in enumerate(sp.schooling[: max(0, k - 2)]):
                    age[idx[2 + j]] = {"普通高中": 17, "高中": 16, "中职": 16, "中等职业教育": 17, "初中": 13,
                                       "小学": 9, "本科": 20, "高职": 19, "大专": 21, "专科": 20}.get(stage, 22)
                    lab[idx[2 + j]] = 4
        else:
            for j, i in enumerate(idx):
                role[i] = 0 if j == 0 else 1
                age[i] = 74 - 2 * j
                lab[i] = 3 if j == 0 else 4
    # the schooling students of designed households must be >= 2 children deep; members >= 3 there

    surname_h = _choice_idx(rng, n, _SURNAME_W)
    sur = surname_h[p_hh]
    other_sur = _choice_idx(rng, P, _SURNAME_W)
    sur = np.where((role == 1) | ((role == 4) & (sex == 0)), other_sur, sur)

    R = _RELATIONS.index
    rel = np.zeros(P, dtype=np.int64)
    rr = rng.random(P)
    k4 = rng.integers(0, 4, P)
    rel = np.where(role == 0, np.where(rr < 0.9, R("户主"), R("本人")), rel)
    rel = np.where(role == 1, np.where(rr < 0.7, R("配偶"), np.where(sex == 1, R("夫"), R("妻"))), rel)
    rel = np.where(role == 2, np.where(sex == 1, R("之子") + k4, R("之女") + k4), rel)
    rel = np.where(role == 3, np.where(sex == 1, R("孙子"), R("孙女")), rel)
    rel = np.where(role == 4, np.where(sex == 1, R("父亲"), R("母亲")), rel)

    # outsiders: people in no household (for unknown_person / unknown_household rows)
    o_age = rng.integers(18, 71, n_outsiders)
    o_sex = rng.integers(0, 2, n_outsiders)
    all_age = np.concatenate([age, o_age])
    all_sex = np.concatenate([sex, o_sex])
    local = rng.random(P + n_outsiders) < 0.82
    ids, _birth = _ids_for(rng, year, all_age, all_sex, local)
    all_sur = np.concatenate([sur, _choice_idx(rng, n_outsiders, _SURNAME_W)])
    names = _names(rng, all_sur, all_sex)
    rel_all = _pick(_RELATIONS, np.concatenate([rel, np.zeros(n_outsiders, dtype=np.int64)]))
    lab_all = np.concatenate([lab, np.ones(n_outsiders, dtype=np.int64)])
    return _World(
        n=n, year=year, county=county, hh_id=hh_id, members=members, listed=listed, first=first,
        status=status, status_txt=status_txt, income_fen=income, pc_fen=pc_fen, housing=housing,
        township=township, village=village, designed=designed, designed_slots=slots,
        n_people=P, p_hh=np.concatenate([p_hh, np.full(n_outsiders, -1)]),
        p_pos=np.concatenate([p_pos, np.zeros(n_outsiders, dtype=np.int64)]),
        p_age=all_age, p_sex=all_sex, p_labour=lab_all, p_id=ids, p_name=names, p_rel=rel_all,
    )


# ----------------------------------------------------------------------------------------------
# Events
# ----------------------------------------------------------------------------------------------


def _year_dates(rng: np.random.Generator, year: int, m: int) -> np.ndarray:
    start = np.datetime64(f"{year}-01-01")
    ndays = int((np.datetime64(f"{year + 1}-01-01") - start).astype(np.int64))
    return start + rng.integers(0, ndays, m)


def _random_member(rng: np.random.Generator, w: _World, hh: np.ndarray) -> np.ndarray:
    out: np.ndarray = w.first[hh] + (rng.random(len(hh)) * w.listed[hh]).astype(np.int64)
    return out


def _yuan(rng: np.random.Generator, lo: float, hi: float, m: int, cents: float = 0.2) -> np.ndarray:
    """Amounts in fen, uniform in [lo, hi] yuan; whole yuan except a share with cents."""
    base = (rng.uniform(lo, hi, m)).astype(np.int64) * 100
    return base + np.where(rng.random(m) < cents, rng.integers(0, 100, m), 0)


def _medical_amounts(rng: np.random.Generator, personal: np.ndarray, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Total, basic, critical and assistance around a given personal burden (all fen)."""
    m = len(personal)
    basic_share = np.where(kind == 0, rng.uniform(0.0, 0.5, m), rng.uniform(0.45, 0.7, m))
    # personal is what is left after basic (share of total), critical and assistance
    crit = np.where(kind == 2, (personal * rng.uniform(0.3, 0.8, m)).astype(np.int64), 0)
    crit = np.where((kind == 1) & (personal > 800_000), (personal * rng.uniform(0.2, 0.5, m)).astype(np.int64), crit)
    assist = np.where(rng.random(m) < 0.15, (personal * rng.uniform(0.02, 0.2, m)).astype(np.int64), 0)
    rest = personal + crit + assist
    total = (rest / np.maximum(1e-9, 1 - basic_share)).astype(np.int64)
    basic = total - rest
    return {"total": total, "basic": basic, "critical": crit, "assistance": assist}


def _make_medical(rng: np.random.Generator, w: _World, specs: Sequence[HouseholdSpec]) -> pl.DataFrame:
    P = w.n_people
    age = w.p_age[:P]
    lam = np.where(age < 16, 0.45, np.where(age < 60, 0.65, 1.25))
    cnt = rng.poisson(lam)
    cnt[w.designed[w.p_hh[:P]]] = 0
    person = np.repeat(np.arange(P), cnt)
    m = len(person)
    u = rng.random(m)
    kind = np.where(u < 0.62, 0, np.where(u < 0.997, 1, 2))  # outpatient, inpatient, catastrophic
    personal = np.where(
        kind == 0,
        _yuan(rng, 20, 2500, m, 0.9),
        np.where(kind == 1, np.clip(rng.lognormal(np.log(5200), 0.85, m), 300, 150_000) * 100,
                 rng.uniform(150_000, 450_000, m) * 100),
    ).astype(np.int64)
    personal = np.where(kind == 0, personal, personal // 100 * 100 + rng.integers(0, 100, m))
    amounts = _medical_amounts(rng, personal, kind)
    date = _year_dates(rng, w.year, m)
    d_person, d_personal, d_kind = [], [], []
    for slot, sp in zip(w.designed_slots, specs, strict=True):
        for j, amt in enumerate(sp.illness):
            d_person.append(int(w.first[slot]) + (j % int(w.listed[slot])))
            d_personal.append(_yuan_to_fen(amt))
            d_kind.append(2 if _yuan_to_fen(amt) > 5_000_000 else 1)
    if d_person:
        dp = np.array(d_personal, dtype=np.int64)
        dam = _medical_amounts(rng, dp, np.array(d_kind))
        person = np.concatenate([person, np.array(d_person)])
        for k in amounts:
            amounts[k] = np.concatenate([amounts[k], dam[k]])
        personal = np.concatenate([personal, dp])
        date = np.concatenate([date, np.sort(_year_dates(rng, w.year, len(d_person)))])
    df = pl.DataFrame({
        "person": person, "date": date, **amounts, "personal": personal,
    })
    return df


def _school_fees(rng: np.random.Generator, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tuition, accommodation, textbooks (fen) by stage group."""
    m = len(group)
    # group: 0 primary, 1 junior, 2 high, 3 vocational, 4 college, 5 undergraduate, 6 postgraduate, 7 part-time
    lo_t = np.array([0, 0, 800, 0, 3500, 4000, 8000, 2000])[group]
    hi_t = np.array([0, 0, 1600, 1200, 7000, 7000, 12000, 5000])[group]
    tuition = (rng.uniform(lo_t, np.maximum(lo_t, hi_t)) // 10 * 10 * 100).astype(np.int64)
    private = (group >= 5) & (group <= 6) & (rng.random(m) < 0.15)
    tuition = np.where(private, rng.integers(120, 400, m) * 10_000, tuition)
    lo_a = np.array([0, 0, 300, 300, 600, 800, 1000, 0])[group]
    hi_a = np.array([600, 800, 600, 600, 1200, 1500, 1500, 0])[group]
    accom = (rng.uniform(lo_a, np.maximum(lo_a, hi_a)) // 10 * 10 * 100).astype(np.int64)
    accom = np.where((group <= 1) & (rng.random(m) < 0.5), 0, accom)
    lo_b = np.array([0, 0, 200, 150, 300, 400, 300, 200])[group]
    hi_b = np.array([150, 200, 500, 400, 800, 1000, 800, 500])[group]
    books = (rng.uniform(lo_b, np.maximum(lo_b, hi_b)) * 100).astype(np.int64)
    books = np.where(rng.random(m) < 0.7, books // 100 * 100, books)
    return tuition, accom, books


def _make_education(rng: np.random.Generator, w: _World, specs: Sequence[HouseholdSpec]) -> pl.DataFrame:
    P = w.n_people
    age = w.p_age[:P]
    des = w.designed[w.p_hh[:P]]
    y = w.year
    rows_person: list[np.ndarray] = []
    rows_group: list[np.ndarray] = []
    rows_date: list[np.ndarray] = []

    def spring(m: int) -> np.ndarray:
        return np.datetime64(f"{y}-02-15") + rng.integers(0, 29, m)

    def autumn(m: int) -> np.ndarray:
        return np.datetime64(f"{y}-08-20") + rng.integers(0, 32, m)

    def add(mask: np.ndarray, group: np.ndarray | int, when: str) -> None:
        idx = np.nonzero(mask & ~des)[0]
        g = np.full(len(idx), group) if np.isscalar(group) else np.asarray(group)[idx]
        rows_person.append(idx)
        rows_group.append(g)
        if when == "spring":
            rows_date.append(spring(len(idx)))
        elif when == "autumn":
            rows_date.append(autumn(len(idx)))
        else:
            rows_date.append(_year_dates(rng, y, len(idx)))

    r = rng.random((P, 4))
    add((age >= 6) & (age <= 11) & (r[:, 0] < 0.22), 0, "autumn")
    add((age >= 12) & (age <= 14) & (r[:, 0] < 0.3), 1, "autumn")
    hs = (age >= 15) & (age <= 17) & (r[:, 0] < 0.85)
    hs_group = np.where(r[:, 1] < 0.7, 2, 3)
    add(hs & (r[:, 2] < 0.9), hs_group, "spring")
    add(hs & (r[:, 3] < 0.9), hs_group, "autumn")
    col = (age >= 18) & (age <= 22) & (r[:, 0] < 0.45)
    col_group = np.where(r[:, 1] < 0.5, 5, 4)
    add(col, col_group, "autumn")
    add(col & (r[:, 2] < 0.3), col_group, "spring")
    add((age >= 23) & (age <= 27) & (r[:, 0] < 0.06), 6, "autumn")
    add((age >= 25) & (age <= 45) & (r[:, 0] < 0.012), 7, "any")
    person = np.concatenate(rows_person) if rows_person else np.zeros(0, dtype=np.int64)
    group = np.concatenate(rows_group).astype(np.int64) if rows_group else np.zeros(0, dtype=np.int64)
    date = np.concatenate(rows_date) if rows_date else np.zeros(0, dtype="datetime64[D]")
    m = len(person)
    tuition, accom, books = _school_fees(rng, group)
    stage_names = (
        ("小学",), ("初中",), STAGES_HIGH, STAGES_VOC, ("高职", "大专", "专科"), ("本科",), STAGES_POST,
        ("大专", "本科"),
    )
    stage = np.empty(m, dtype=object)
    for gi, names in enumerate(stage_names):
        mk = group == gi
        stage[mk] = np.array(names, dtype=object)[rng.integers(0, len(names), int(mk.sum()))]
    full_time = np.where((group == 7) | ((group >= 2) & (rng.random(m) < 0.02)), "非全日制", "全日制")
    # designed rows
    d_rows: list[tuple[int, str, str, int, int, int]] = []
    for slot, sp in zip(w.designed_slots, specs, strict=True):
        f0, k = int(w.first[slot]), int(w.listed[slot])
        for j, (st, ft, t, a_, b) in enumerate(sp.schooling):
            who = f0 + min(k - 1, 2 + j) if k >= 3 else f0 + k - 1
            if ft != "全日制" and k >= 2:
                who = f0 + 1  # part-time study: the spouse
            d_rows.append((who, st, ft, _yuan_to_fen(t), _yuan_to_fen(a_), _yuan_to_fen(b)))
    if d_rows:
        person = np.concatenate([person, np.array([d[0] for d in d_rows])])
        stage = np.concatenate([stage, np.array([d[1] for d in d_rows], dtype=object)])
        full_time = np.concatenate([full_time, np.array([d[2] for d in d_rows])])
        tuition = np.concatenate([tuition, np.array([d[3] for d in d_rows])])
        accom = np.concatenate([accom, np.array([d[4] for d in d_rows])])
        books = np.concatenate([books, np.array([d[5] for d in d_rows])])
        date = np.concatenate([date, autumn(len(d_rows))])
    return pl.DataFrame({
        "person": person,
        "date": date,
        "stage": pl.Series(stage.tolist(), dtype=pl.String),
        "full_time": pl.Series(full_time.tolist(), dtype=pl.String),
        "tuition": tuition,
        "accommodation": accom,
        "textbooks": books,
    })


def _make_losses(
    rng: np.random.Generator, w: _World, specs: Sequence[HouseholdSpec], dept: str
) -> pl.DataFrame:
    n = w.n
    lam = {"traffic": 0.25, "fire": 0.12, "disaster": 0.6}[dept]
    cnt = rng.poisson(lam, n)
    cnt[w.designed] = 0
    hh = np.repeat(np.arange(n), cnt)
    m = len(hh)
    if dept == "traffic":
        person = _random_member(rng, w, hh)
        person = np.where(w.p_age[person] < 18, w.first[hh], person)
        loss = np.clip(rng.lognormal(np.log(4000), 1.0, m), 200, 300_000)
        comp_share = np.where(rng.random(m) < 0.45, 0.0, rng.uniform(0.2, 1.3, m))
        date = _year_dates(rng, w.year, m)
    elif dept == "fire":
        person = np.where(rng.random(m) < 0.9, w.first[hh], _random_member(rng, w, hh))
        loss = np.clip(rng.lognormal(np.log(7000), 1.1, m), 300, 400_000)
        comp_share = np.where(rng.random(m) < 0.8, 0.0, rng.uniform(0.1, 0.8, m))
        date = _year_dates(rng, w.year, m)
    else:
        person = np.where(rng.random(m) < 0.85, w.first[hh], _random_member(rng, w, hh))
        big = rng.random(m) < 0.04
        loss = np.where(big, rng.uniform(20_000, 160_000, m), np.clip(rng.lognormal(np.log(3000), 0.9, m), 200, 60_000))
        comp_share = np.where(rng.random(m) < 0.5, 0.0, rng.uniform(0.05, 0.5, m))
        summer = rng.random(m) < 0.6
        date = np.where(summer, np.datetime64(f"{w.year}-06-01") + rng.integers(0, 122, m), _year_dates(rng, w.year, m))
    loss_f = (loss * 100).astype(np.int64)
    loss_f = np.where(rng.random(m) < 0.6, loss_f // 10_000 * 10_000, loss_f // 100 * 100)
    loss_f = np.maximum(loss_f, 10_000)
    comp_f = (loss_f * comp_share).astype(np.int64) // 100 * 100
    d_person, d_loss, d_comp = [], [], []
    for slot, sp in zip(w.designed_slots, specs, strict=True):
        for kind, lo, co in sp.disaster:
            if kind == dept:
                d_person.append(int(w.first[slot]))
                d_loss.append(_yuan_to_fen(lo))
                d_comp.append(_yuan_to_fen(co))
    if d_person:
        person = np.concatenate([person, np.array(d_person)])
        loss_f = np.concatenate([loss_f, np.array(d_loss)])
        comp_f = np.concatenate([comp_f, np.array(d_comp)])
        date = np.concatenate([date, _year_dates(rng, w.year, len(d_person))])
    return pl.DataFrame({"person": person, "date": date, "loss": loss_f, "compensation": comp_f})


# ----------------------------------------------------------------------------------------------
# Tables, styles and injection
# ----------------------------------------------------------------------------------------------


@dataclass
class _Table:
    dept: str
    fields: list[str]  # fields present in the file, EXPORTS.md order
    df: pl.DataFrame
    kinds: dict[str, str]


def _kinds(dept: str) -> dict[str, str]:
    return {f: k for f, k, _ in FIELDS[dept]}


def _styles(rng: np.random.Generator, m: int, kind: str, messy: bool) -> np.ndarray:
    if not messy:
        return np.zeros(m, dtype=np.int8)
    if kind == "amount":
        primary = int(rng.choice(4, p=[0.5, 0.25, 0.15, 0.1]))
        alt = rng.integers(0, 7, m)
        return np.where(rng.random(m) < 0.85, primary, alt).astype(np.int8)
    if kind == "date":
        primary = int(rng.integers(0, 5))
        alt = rng.integers(0, 5, m)
        return np.where(rng.random(m) < 0.85, primary, alt).astype(np.int8)
    if kind == "id":
        return _choice_idx(rng, m, (0.9, 0.02, 0.03, 0.01, 0.02, 0.02)).astype(np.int8)
    return np.zeros(m, dtype=np.int8)


def _add_meta(df: pl.DataFrame, dept: str, fields: list[str], rng: np.random.Generator, messy: bool,
              designed: np.ndarray) -> pl.DataFrame:
    m = df.height
    kinds = _kinds(dept)
    cols: dict[str, Any] = {
        "_ord": np.arange(m, dtype=np.float64),
        "_uid": np.arange(m, dtype=np.int64),
        "_designed": designed,
    }
    for f in fields:
        k = kinds[f]
        if k in ("amount", "date", "id"):
            cols[f"_s_{f}"] = _styles(rng, m, k, messy)
        if k in ("amount", "date", "int"):
            cols[f"_x_{f}"] = rng.random(m) < (0.8 if k != "date" else 0.75)
    df = df.with_columns(
        [pl.Series(k, v) for k, v in cols.items()]
        + [
            pl.lit(None, dtype=pl.String).alias("_reason"),
            pl.lit(None, dtype=pl.String).alias("_field"),
            pl.lit(None, dtype=pl.String).alias("_also"),
            pl.lit(None, dtype=pl.String).alias("_ov1f"),
            pl.lit(None, dtype=pl.String).alias("_ov1t"),
            pl.lit(None, dtype=pl.String).alias("_ov2f"),
            pl.lit(None, dtype=pl.String).alias("_ov2t"),
            pl.lit(None, dtype=pl.Int64).alias("_corr_of"),
            pl.lit(None, dtype=pl.Int64).alias("_copy_of"),
            pl.lit(False).alias("_superseded"),
        ]
    )
    return df


def _set_rows(df: pl.DataFrame, idx: np.ndarray, values: Mapping[str, Sequence[Any] | Any]) -> pl.DataFrame:
    """Set column values on the rows at positions idx (values: scalar or per-row sequence)."""
    if len(idx) == 0:
        return df
    out = []
    for col, val in values.items():
        s = df[col]
        if isinstance(val, (list, tuple, np.ndarray, pl.Series)):
            new = pl.Series(col, list(val) if not isinstance(val, pl.Series) else val, dtype=s.dtype)
        else:
            new = pl.Series(col, [val] * len(idx), dtype=s.dtype)
        out.append(s.scatter(idx, new))
    return df.with_columns(out)


def _counts(rng: np.random.Generator, n_rows: int, share: float, reasons: Sequence[str]) -> dict[str, int]:
    if share <= 0 or n_rows == 0:
        return {r: 0 for r in reasons}
    total = round(share * n_rows)
    total = max(total, min(len(reasons), n_rows // 4))
    order = list(rng.permutation(len(reasons)))
    counts = {r: 0 for r in reasons}
    for j in order[: min(total, len(reasons))]:
        counts[reasons[j]] += 1
    rest = total - min(total, len(reasons))
    if rest > 0:
        extra = rng.multinomial(rest, np.full(len(reasons), 1 / len(reasons)))
        for r, e in zip(reasons, extra, strict=True):
            counts[r] += int(e)
    return counts


def _bad_id_text(rng: np.random.Generator, good: str) -> str:
    u = rng.random()
    if u < 0.7:
        ok = _CHECK_CHARS.index(good[-1]) if good[-1] in _CHECK_CHARS else 0
        wrong = _CHECK_CHARS[(ok + int(rng.integers(1, 11))) % 11]
        s = good[:-1] + wrong
        if rng.random() < 0.2:
            s = s.translate(str.maketrans("0123456789", "".join(_FW_TO)))
        return s
    if u < 0.8:
        return good[:-1]
    if u < 0.87:
        return good + str(int(rng.integers(0, 10)))
    j = int(rng.integers(6, 16))
    return good[:j] + "O" + good[j + 1:]


def _bad_date_text(rng: np.random.Generator, year: int) -> str:
    y = year
    cands = (
        f"{y}-02-30", f"{y}/2/30", f"{y}.4.31", f"{y}0631", f"{y}年9月31日", f"{y}-13-05", f"{y}/11/31",
        f"{y}.0.12", f"{y}1301", f"{y}年2月30日", f"{y}-06-31", f"{y}/4/0",
    )
    return cands[int(rng.integers(0, len(cands)))]


def _bad_amount_text(rng: np.random.Generator, fen: int | None) -> str:
    u = rng.random()
    if u < 0.25 and fen:
        return "-" + _fen_str(int(fen))
    if u < 0.4:
        a, b, c = (int(x) for x in rng.integers(1, 999, 3))
        return f"{a}.{b}.{c}"
    return BAD_AMOUNT_TEXTS[int(rng.integers(0, len(BAD_AMOUNT_TEXTS)))]


def _defect_fields(dept: str, fields: list[str], reason: str) -> list[str]:
    kinds = _kinds(dept)
    if reason == "bad_id_number":
        return [f for f in fields if kinds[f] == "id"]
    if reason == "bad_amount":
        return [f for f in fields if kinds[f] == "amount"]
    if reason == "bad_date":
        return [f for f in fields if kinds[f] == "date"]
    if reason == "bad_members":
        return [f for f in ("members",) if f in fields]
    if reason == "bad_status":
        return [f for f in ("status",) if f in fields]
    if reason == "bad_stage":
        return [f for f in ("stage",) if f in fields]
    if reason == "bad_value":
        return [f for f in ("housing_secure", "labour", "full_time") if f in fields]
    return []


def _defect_text(rng: np.random.Generator, reason: str, fld: str, row: dict[str, Any], year: int) -> str:
    if reason == "bad_id_number":
        return _bad_id_text(rng, row[fld])
    if reason == "bad_amount":
        return _bad_amount_text(rng, row.get(fld))
    if reason == "bad_date":
        return _bad_date_text(rng, year)
    if reason == "bad_members":
        return BAD_MEMBERS_TEXTS[int(rng.integers(0, len(BAD_MEMBERS_TEXTS)))]
    if reason == "bad_status":
        return BAD_STATUS_TEXTS[int(rng.integers(0, len(BAD_STATUS_TEXTS)))]
    if reason == "bad_stage":
        return BAD_STAGE_TEXTS[int(rng.integers(0, len(BAD_STAGE_TEXTS)))]
    if reason == "bad_value":
        pool = {"housing_secure": BAD_HOUSING_TEXTS, "labour": BAD_LABOUR_TEXTS, "full_time": BAD_FULL_TIME_TEXTS}[fld]
        return pool[int(rng.integers(0, len(pool)))]
    raise ValueError(reason)


def _inject_column_defects(
    rng: np.random.Generator, t: _Table, idx: np.ndarray, reason: str, year: int
) -> None:
    """Give each row at idx one defect of the given column-level reason."""
    if len(idx) == 0:
        return
    cands = _defect_fields(t.dept, t.fields, reason)
    sub = t.df[idx.tolist()]
    rows = sub.to_dicts()
    flds, texts = [], []
    for row in rows:
        fld = cands[int(rng.integers(0, len(cands)))]
        flds.append(fld)
        texts.append(_defect_text(rng, reason, fld, row, year))
    t.df = _set_rows(t.df, idx, {"_reason": reason, "_field": flds, "_ov1f": flds, "_ov1t": texts})


def _inject_multi(rng: np.random.Generator, t: _Table, idx: np.ndarray, year: int) -> None:
    """Two column defects in one row: the first in EXPORTS.md's column order is expected."""
    if len(idx) == 0:
        return
    order = [f for f, _, _ in FIELDS[t.dept]]
    pairs: list[tuple[str, str]] = []  # (reason, field) candidates
    for reason in _COLUMN_REASONS:
        for f in _defect_fields(t.dept, t.fields, reason):
            pairs.append((reason, f))
    if len(pairs) < 2:
        return
    rows = t.df[idx.tolist()].to_dicts()
    vals: dict[str, list[Any]] = {k: [] for k in ("_reason", "_field", "_also", "_ov1f", "_ov1t", "_ov2f", "_ov2t")}
    for row in rows:
        a, b = rng.choice(len(pairs), size=2, replace=False)
        (ra, fa), (rb, fb) = pairs[int(a)], pairs[int(b)]
        while fa == fb:
            b = int(rng.integers(0, len(pairs)))
            rb, fb = pairs[b]
        if order.index(fb) < order.index(fa):
            (ra, fa), (rb, fb) = (rb, fb), (ra, fa)
        vals["_reason"].append(ra)
        vals["_field"].append(fa)
        vals["_also"].append(rb)
        vals["_ov1f"].append(fa)
        vals["_ov1t"].append(_defect_text(rng, ra, fa, row, year))
        vals["_ov2f"].append(fb)
        vals["_ov2t"].append(_defect_text(rng, rb, fb, row, year))
    t.df = _set_rows(t.df, idx, vals)


def _append_copies(
    rng: np.random.Generator, t: _Table, src_idx: np.ndarray, changes: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """Copies of rows at src_idx placed later in the file (new uids); returns the appended rows."""
    src = t.df[src_idx.tolist()]
    n_all = t.df.height
    start_uid = int(t.df["_uid"].to_numpy().max()) + 1 if n_all else 0
    ords = src["_ord"].to_numpy()
    top = float(t.df["_ord"].to_numpy().max()) if n_all else 0.0
    new_ord = ords + 0.5 + rng.random(len(ords)) * np.maximum(1.0, top - ords)
    new: pl.DataFrame = src.with_columns(
        pl.Series("_ord", new_ord),
        pl.Series("_uid", np.arange(start_uid, start_uid + len(src), dtype=np.int64)),
        pl.col("_uid").alias("_copy_of"),
    )
    if changes:
        new = new.with_columns([
            (pl.Series(k, v, dtype=new[k].dtype) if isinstance(v, (list, np.ndarray, pl.Series))
             else pl.lit(v, dtype=new[k].dtype).alias(k))
            for k, v in changes.items()
        ])
    t.df = pl.concat([t.df, new], how="vertical")
    return new


# ----------------------------------------------------------------------------------------------
# Building the seven tables
# ----------------------------------------------------------------------------------------------


@dataclass
class _Drop:
    world: _World
    tables: dict[str, _Table]
    hh_bad: np.ndarray
    register_mode: str  # "income" | "per_capita" | "both"


def _build_tables(
    seeds: Sequence[np.random.SeedSequence], w: _World, events: Mapping[str, pl.DataFrame], *, messy: bool,
    bad_share: float, correction_share: float, register_columns: str | None = None,
) -> _Drop:
    rng = np.random.default_rng(seeds[0])
    year = w.year
    n = w.n
    tables: dict[str, _Table] = {}

    # --- household register
    mode = str(rng.choice(["income", "per_capita", "both"], p=[0.4, 0.3, 0.3])) if messy else "income"
    if register_columns is not None:
        if register_columns not in ("income", "per_capita", "both"):
            raise ValueError(f"register_columns must be income, per_capita or both, not {register_columns!r}")
        mode = register_columns
    reg_fields = [f for f, _, _ in FIELDS["household_register"]]
    if mode == "income":
        reg_fields.remove("income_per_capita")
    elif mode == "per_capita":
        reg_fields.remove("income")
    income = w.income_fen.copy()
    pc = w.pc_fen.copy()
    inc_col: np.ndarray | None = income
    pc_col: np.ndarray | None = pc
    if mode == "both":
        blank_inc = (rng.random(n) < 0.3) & ~w.designed
        stale = (~blank_inc) & (rng.random(n) < 0.05) & ~w.designed
        pc_shown = np.where(stale, pc + rng.integers(-30_000, 30_000, n), pc)
        pc_shown = np.maximum(pc_shown, 0)
        inc_col = np.where(blank_inc, -1, income)
        pc_col = pc_shown
    hstyle = int(rng.choice(3, p=[0.7, 0.15, 0.15])) if messy else 0
    hpick = np.where(rng.random(n) < (0.9 if messy else 1.0), hstyle, rng.integers(0, 3, n))
    housing_txt = np.where(w.housing, np.array([h[0] for h in HOUSING_TEXTS], dtype=object)[hpick],
                           np.array([h[1] for h in HOUSING_TEXTS], dtype=object)[hpick])
    heads = w.first
    reg = pl.DataFrame({
        "hh": np.arange(n),
        "household_id": w.hh_id,
        "head_id": w.p_id.gather(heads),
        "head_name": w.p_name.gather(heads),
        "township": w.township,
        "village": w.village,
        "members": w.members.astype(np.int64),
        "income": pl.Series(inc_col).cast(pl.Int64),
        "income_per_capita": pl.Series(pc_col).cast(pl.Int64),
        "status": w.status_txt,
        "housing_secure": pl.Series(housing_txt.tolist(), dtype=pl.String),
        "person": heads.astype(np.int64),
    }).with_columns(
        pl.when(pl.col("income") < 0).then(None).otherwise(pl.col("income")).alias("income"),
    )
    reg = _add_meta(reg, "household_register", reg_fields, rng, messy, w.designed)
    tables["household_register"] = _Table("household_register", reg_fields, reg, _kinds("household_register"))

    # --- members
    P = w.n_people
    mem = pl.DataFrame({
        "hh": w.p_hh[:P],
        "household_id": w.hh_id.gather(w.p_hh[:P]),
        "id_number": w.p_id[:P],
        "name": w.p_name[:P],
        "relation": w.p_rel[:P],
        "labour": _pick(LABOUR, w.p_labour[:P]),
        "person": np.arange(P, dtype=np.int64),
        "able": w.p_labour[:P] < 3,
        "sex": w.p_sex[:P],
        "age": w.p_age[:P],
    })
    mem_fields = [f for f, _, _ in FIELDS["members"]]
    mem = _add_meta(mem, "members", mem_fields, rng, messy, w.designed[w.p_hh[:P]])
    tables["members"] = _Table("members", mem_fields, mem, _kinds("members"))

    # --- events
    for k, dept in enumerate(EVENT_DEPARTMENTS):
        erng = np.random.default_rng(seeds[1 + k])
        ev = events[dept]
        ev = ev.with_columns(pl.Series("_tie", erng.random(ev.height))).sort(["date", "_tie"]).drop("_tie")
        m = ev.height
        person = ev["person"].to_numpy()
        width = max(6, len(str(m + 10)))
        seqs = pl.Series(np.arange(1, m + 1)).cast(pl.String).str.zfill(width)
        prefix = {
            "medical": f"JS{w.county}", "education": f"JF{year}", "traffic": f"SG{w.county}{year}",
            "fire": f"XF{w.county}{year}", "disaster": f"ZQ{w.county}{year}",
        }[dept]
        key = KEY_FIELD[dept]
        ev = ev.with_columns(
            (pl.lit(prefix) + seqs).alias(key),
            w.p_id.gather(person).alias("id_number"),
            w.p_name.gather(person).alias("name"),
            pl.Series("hh", w.p_hh[person]),
        )
        fields = [f for f, _, _ in FIELDS[dept]]
        if dept == "medical":
            with_personal = (not messy) or erng.random() < 0.7
            if not with_personal:
                fields.remove("personal")
            # some zero reimbursement cells are blank; personal sometimes blank (not checked then)
            ev = ev.with_columns(
                pl.when((pl.col("critical") == 0) & pl.lit(messy) & (pl.Series(erng.random(m)) < 0.5))
                .then(None).otherwise(pl.col("critical")).alias("critical"),
                pl.when((pl.col("assistance") == 0) & pl.lit(messy) & (pl.Series(erng.random(m)) < 0.5))
                .then(None).otherwise(pl.col("assistance")).alias("assistance"),
                pl.when(pl.lit(messy) & (pl.Series(erng.random(m)) < 0.08)).then(None)
                .otherwise(pl.col("personal")).alias("personal"),
            )
            # a personal burden off by exactly 0.01 is accepted (EXPORTS.md 3.3: more than 0.01 rejects)
            off = messy & (erng.random(m) < 0.01)
            ev = ev.with_columns(
                pl.when(pl.Series(off) & pl.col("personal").is_not_null() & (pl.col("personal") > 0))
                .then(pl.col("personal") + pl.Series(np.where(erng.random(m) < 0.5, 1, -1)))
                .otherwise(pl.col("personal")).alias("personal")
            )
        elif dept in ("traffic", "fire", "disaster"):
            ev = ev.with_columns(
                pl.when((pl.col("compensation") == 0) & pl.lit(messy) & (pl.Series(erng.random(m)) < 0.4))
                .then(None).otherwise(pl.col("compensation")).alias("compensation"),
            )
        ev = _add_meta(ev, dept, fields, erng, messy, w.designed[w.p_hh[person]])
        tables[dept] = _Table(dept, fields, ev, _kinds(dept))

    hh_bad = _inject(seeds, w, tables, bad_share=bad_share, correction_share=correction_share)
    return _Drop(w, tables, hh_bad, mode)


def _disjoint(rng: np.random.Generator, pool: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    perm = rng.permutation(pool)
    out, start = [], 0
    for c in counts:
        c = min(c, len(perm) - start)
        out.append(np.sort(perm[start:start + c]))
        start += c
    return out


def _inject(
    seeds: Sequence[np.random.SeedSequence], w: _World, tables: dict[str, _Table], *, bad_share: float,
    correction_share: float,
) -> np.ndarray:
    year = w.year
    rng = np.random.default_rng(seeds[6])
    n = w.n

    # ---------------- register
    t = tables["household_register"]
    counts = _counts(rng, n, bad_share, REASONS["household_register"])
    n_multi = max(1, n // 2000) if bad_share > 0 and n >= 40 else 0
    pool = np.nonzero(~w.designed)[0]
    col_reasons = [r for r in REASONS["household_register"] if r != "duplicate_household"]
    sel = _disjoint(rng, pool, [counts[r] for r in col_reasons] + [n_multi, counts["duplicate_household"]])
    for r, idx in zip(col_reasons, sel, strict=False):
        _inject_column_defects(rng, t, idx, r, year)
    _inject_multi(rng, t, sel[len(col_reasons)], year)
    hh_bad = np.zeros(n, dtype=bool)
    for idx in sel[: len(col_reasons) + 1]:
        hh_bad[idx] = True
    dup_src = sel[-1]
    if len(dup_src):
        # a later row with the same household id: an identical repeat or a re-entry with new income
        ch: dict[str, Any] = {"_reason": "duplicate_household", "_field": "household_id"}
        if "income" in t.fields:
            inc = t.df["income"].gather(dup_src).to_numpy()
            changed = rng.random(len(dup_src)) < 0.5
            ch["income"] = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v) + (10_000 if c else 0)
                for v, c in zip(inc.tolist(), changed.tolist(), strict=True)
            ]
        _append_copies(rng, t, dup_src, ch)

    # ---------------- members
    t = tables["members"]
    mrng = np.random.default_rng(seeds[7])
    df = t.df
    base_n = df.height
    hh = df["hh"].to_numpy()
    bad_mem = hh_bad[hh]
    t.df = _set_rows(df, np.nonzero(bad_mem)[0], {"_reason": "unknown_household", "_field": "household_id"})
    # people with events
    has_event = np.zeros(len(w.p_hh), dtype=bool)
    for dept in EVENT_DEPARTMENTS:
        has_event[tables[dept].df["person"].to_numpy()] = True
    able = df["able"].to_numpy()
    able_count = np.bincount(hh, weights=able.astype(float), minlength=n)
    pos = w.p_pos[:w.n_people]
    eligible = (~bad_mem) & (~w.designed[hh]) & (pos != 0) & (~has_event[: w.n_people]) & (
        (~able) | (able_count[hh] >= 2)
    )
    counts = _counts(mrng, base_n, bad_share, REASONS["members"])
    pool = np.nonzero(eligible)[0]
    # at most one changed row per household keeps the labour capacity rule simple
    _, first_in_hh = np.unique(hh[pool], return_index=True)
    pool = pool[first_in_hh]
    sel = _disjoint(mrng, pool, [counts["bad_id_number"], counts["bad_value"]])
    _inject_column_defects(mrng, t, sel[0], "bad_id_number", year)
    _inject_column_defects(mrng, t, sel[1], "bad_value", year)
    # duplicate_person: someone of a good household listed again, later, in another good household
    ok_rows = (~bad_mem) & (~w.designed[hh])
    ok_rows[np.concatenate(sel)] = False
    good_rows = np.nonzero(ok_rows)[0]
    k = min(counts["duplicate_person"], len(good_rows))
    if k and n >= 2:
        src = np.sort(mrng.choice(good_rows, size=k, replace=False))
        good_hh = np.nonzero((~hh_bad) & (~w.designed))[0]
        src_hh = hh[src]
        other = good_hh[mrng.integers(0, len(good_hh), k)]
        clash = other == src_hh
        other = np.where(clash, good_hh[(np.searchsorted(good_hh, other) + 1) % len(good_hh)], other)
        keep = other != src_hh
        src, other = src[keep], other[keep]
        if len(src):
            _append_copies(mrng, t, src, {
                "hh": other,
                "household_id": w.hh_id.gather(other),
                "relation": _pick(("之子", "之女", "孙子", "配偶", "其他"), mrng.integers(0, 5, len(src))),
                "_reason": "duplicate_person",
                "_field": "id_number",
                "_designed": False,
            })
    k = counts["unknown_household"]
    if k:
        outs = w.take_outsiders(k)
        width = max(6, len(str(n)))
        fake = [f"{w.county}-{int(x):0{width}d}" for x in mrng.integers(n + 1, n + 1 + max(10, n), k)]
        good_now = np.nonzero(t.df["_reason"].head(base_n).is_null().to_numpy())[0]
        src = np.sort(mrng.choice(good_now, size=k, replace=True))
        _append_copies(mrng, t, src, {
            "hh": np.full(k, -1),
            "household_id": fake,
            "id_number": w.p_id.gather(outs),
            "name": w.p_name.gather(outs),
            "person": outs,
            "relation": "户主",
            "labour": _pick(LABOUR, mrng.integers(0, 3, k)),
            "_reason": "unknown_household",
            "_field": "household_id",
            "_designed": False,
        })

    # ---------------- events
    for j, dept in enumerate(EVENT_DEPARTMENTS):
        erng = np.random.default_rng(seeds[8 + j])
        t = tables[dept]
        df = t.df
        base_n = df.height
        hh_e = df["hh"].to_numpy()
        cascade = hh_bad[hh_e]
        t.df = _set_rows(df, np.nonzero(cascade)[0], {"_reason": "unknown_person", "_field": "id_number"})
        eligible = (~cascade) & (~t.df["_designed"].to_numpy())
        pool = np.nonzero(eligible)[0]
        counts = _counts(erng, base_n, bad_share, REASONS[dept])
        n_multi = max(1, base_n // 2000) if bad_share > 0 and base_n >= 50 else 0
        n_corr = round(correction_share * base_n)
        if correction_share > 0 and base_n >= 20:
            n_corr = max(1, n_corr)
        col_reasons = [r for r in REASONS[dept] if r in _COLUMN_REASONS]
        other_reasons = ["inconsistent_amounts", "unknown_person", "outside_policy_year"]
        other_reasons = [r for r in other_reasons if r in REASONS[dept]]
        plan = col_reasons + other_reasons + ["_multi", "duplicate_event", "_correction"]
        wanted = [counts.get(r, 0) for r in col_reasons + other_reasons] + [
            n_multi, counts["duplicate_event"], n_corr,
        ]
        if dept == "medical":
            # inconsistent_amounts by a given personal burden needs the personal column
            pass
        picks = dict(zip(plan, _disjoint(erng, pool, wanted), strict=True))
        for r in col_reasons:
            _inject_column_defects(erng, t, picks[r], r, year)
        _inject_multi(erng, t, picks["_multi"], year)
        if "inconsistent_amounts" in picks:
            idx = picks["inconsistent_amounts"]
            rows = t.df[idx.tolist()]
            neg = (erng.random(len(idx)) < 0.3) | ("personal" not in t.fields)
            total = rows["total"].to_numpy()
            crit = rows["critical"].fill_null(0).to_numpy()
            assist = rows["assistance"].fill_null(0).to_numpy()
            personal = rows["personal"].to_numpy()
            personal_calc = total - rows["basic"].to_numpy() - crit - assist
            # (a) a given personal burden that differs by more than 0.01
            delta = np.where(erng.random(len(idx)) < 0.2, 2, erng.integers(100, 50_000, len(idx)))
            sign = np.where((erng.random(len(idx)) < 0.5) & (personal_calc > delta), -1, 1)
            new_personal = [None if ng else int(v) for ng, v in zip(neg, personal_calc + sign * delta, strict=True)]
            # (b) reimbursements above the total: a negative burden, personal left blank
            new_basic = np.where(neg, total - crit - assist + erng.integers(100, 200_000, len(idx)),
                                 rows["basic"].to_numpy())
            t.df = _set_rows(t.df, idx, {
                "personal": new_personal, "basic": new_basic, "_reason": "inconsistent_amounts",
                "_field": [None if ng else "personal" for ng in neg],
            })
            del personal
        if "unknown_person" in picks:
            idx = picks["unknown_person"]
            outs = w.take_outsiders(len(idx))
            t.df = _set_rows(t.df, idx, {
                "id_number": w.p_id.gather(outs), "name": w.p_name.gather(outs), "person": outs,
                "hh": np.full(len(idx), -1), "_reason": "unknown_person", "_field": "id_number",
            })
        if "outside_policy_year" in picks:
            idx = picks["outside_policy_year"]
            k = len(idx)
            u = erng.random(k)
            before = np.datetime64(f"{year - 1}-12-31") - erng.integers(0, 45, k)
            after = np.datetime64(f"{year + 1}-01-01") + erng.integers(0, 40, k)
            long_ago = np.datetime64(f"{year - 2}-01-01") + erng.integers(0, 365, k)
            d = np.where(u < 0.5, before, np.where(u < 0.85, after, long_ago))
            t.df = _set_rows(t.df, idx, {"date": pl.Series(d), "_reason": "outside_policy_year", "_field": "date"})
        idx = picks["duplicate_event"]
        if len(idx):
            _append_copies(erng, t, idx, {"_reason": "duplicate_event", "_field": KEY_FIELD[dept]})
        idx = picks["_correction"]
        if len(idx):
            t.df = _set_rows(t.df, idx, {"_superseded": True})
            src = t.df[idx.tolist()]
            k = len(idx)
            corr: dict[str, Any] = {"_corr_of": src["_uid"].to_numpy(), "_superseded": False}
            if dept == "medical":
                personal = (src["total"] - src["basic"] - src["critical"].fill_null(0)
                            - src["assistance"].fill_null(0)).to_numpy()
                new_personal = np.maximum(0, personal + erng.integers(-personal // 2 - 1, 300_000, k))
                new_personal = np.where(new_personal == personal, personal + 100, new_personal)
                kind = np.where(new_personal > 2_000_000, 1, 0)
                am = _medical_amounts(erng, new_personal, kind)
                corr.update(am)
                corr["personal"] = [
                    None if blank else int(v)
                    for blank, v in zip(src["personal"].is_null().to_list(), new_personal, strict=True)
                ]
            elif dept == "education":
                tu = src["tuition"].to_numpy()
                corr["tuition"] = tu + erng.integers(1, 40, k) * 100
            else:
                lo = src["loss"].to_numpy()
                corr["loss"] = lo + erng.integers(1, 200, k) * 100
                if erng.random() < 0.5:
                    corr["date"] = pl.Series(np.minimum(
                        src["date"].to_numpy() + erng.integers(0, 5, k), np.datetime64(f"{year}-12-31")))
            _append_copies(erng, t, idx, corr)
    return hh_bad


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------


def _amount_style(f: pl.Series, k: int, quote: bool) -> pl.Series:
    """Amount text (fen -> yuan) in style k: 0 plain, 1 thousands, 2 元, 3 ￥, 4 full-width, 5 short, 6 mills."""
    fen = pl.col("f")
    ip = fen // 100
    ips = ip.cast(pl.String)
    fp = (fen % 100).cast(pl.String).str.zfill(2)
    plain = ips + "." + fp
    if k == 1:
        thou = (
            pl.when(ip >= 1_000_000)
            .then((ip // 1_000_000).cast(pl.String) + "," + ((ip // 1000) % 1000).cast(pl.String).str.zfill(3)
                  + "," + (ip % 1000).cast(pl.String).str.zfill(3))
            .when(ip >= 1000)
            .then((ip // 1000).cast(pl.String) + "," + (ip % 1000).cast(pl.String).str.zfill(3))
            .otherwise(ips)
            + "." + fp
        )
        e = pl.when(ip >= 1000).then('"' + thou + '"').otherwise(thou) if quote else thou
    elif k == 2:
        e = plain + "元"
    elif k == 3:
        e = "￥" + plain
    elif k == 4:
        e = plain.str.replace_many(_FW_FROM, _FW_TO)
    elif k == 5:
        e = (pl.when(fen % 100 == 0).then(ips)
             .when(fen % 10 == 0).then(ips + "." + ((fen % 100) // 10).cast(pl.String))
             .otherwise(plain))
    elif k == 6:
        mills = fen * 10 - 5
        e = pl.when(fen >= 1).then(
            (mills // 1000).cast(pl.String) + "." + (mills % 1000).cast(pl.String).str.zfill(3)
        ).otherwise(plain)
    else:
        e = plain
    return pl.DataFrame({"f": f}).select(e.alias("t")).to_series()


def _styled(values: pl.Series, style: np.ndarray, fmt: Any, n_styles: int) -> pl.Series:
    """Format every row in the most common style, then re-format the other styles' rows only."""
    counts = np.bincount(style.astype(np.int64), minlength=n_styles)
    base_k = int(counts.argmax()) if len(style) else 0
    out: pl.Series = fmt(values, base_k)
    for k in range(n_styles):
        if k != base_k and counts[k]:
            idx = np.nonzero(style == k)[0]
            out = out.scatter(idx, fmt(values.gather(idx), k))
    return out


def _amount_text(fen: pl.Series, style: np.ndarray, quote: bool) -> pl.Series:
    out = _styled(fen.fill_null(0), style, lambda v, k: _amount_style(v, k, quote), 7)
    null = np.nonzero(fen.is_null().to_numpy())[0]
    if len(null):
        out = out.scatter(null, pl.Series([""] * len(null), dtype=pl.String))
    return out


def _date_text(d: pl.Series, style: np.ndarray) -> pl.Series:
    """Dates in the five written forms of EXPORTS.md 2, through a small table of the days seen."""
    if len(d) == 0:
        return pl.Series([], dtype=pl.String)
    days = d.cast(pl.Int32).fill_null(0).to_numpy().astype(np.int64)
    lo, hi = int(days.min()), int(days.max())
    table: list[str] = []
    for x in range(lo, hi + 1):
        day = dt.date(1970, 1, 1) + dt.timedelta(days=x)
        y, m, dd = day.year, day.month, day.day
        table += [f"{y}-{m:02d}-{dd:02d}", f"{y}/{m}/{dd}", f"{y}.{m}.{dd}", f"{y}{m:02d}{dd:02d}", f"{y}年{m}月{dd}日"]
    return pl.Series(table, dtype=pl.String).gather((days - lo) * 5 + style.astype(np.int64))


def _id_style(s: pl.Series, k: int) -> pl.Series:
    if k == 1:
        return " " + s
    if k == 2:
        return s + " "
    if k == 3:
        return " " + s + "  "
    if k == 4:
        return s.str.replace_many(_FW_FROM, _FW_TO)
    if k == 5:
        return s.str.to_lowercase()
    return s


def _cell_text(df: pl.DataFrame, f: str, kind: str, quote: bool) -> pl.Series:
    if kind == "amount":
        out = _amount_text(df[f], df[f"_s_{f}"].to_numpy(), quote)
    elif kind == "date":
        out = _date_text(df[f], df[f"_s_{f}"].to_numpy())
    elif kind == "id":
        out = _styled(df[f].fill_null(""), df[f"_s_{f}"].to_numpy(), _id_style, 6)
    elif kind == "int":
        out = df[f].cast(pl.String).fill_null("")
    else:
        out = df[f].fill_null("")
    for fcol, tcol in (("_ov1f", "_ov1t"), ("_ov2f", "_ov2t")):
        idx = np.nonzero((df[fcol] == f).fill_null(False).to_numpy())[0]
        if len(idx):
            out = out.scatter(idx, df[tcol].gather(idx))
    return out.alias(f"_t_{f}")


def _extra_values(header: str, df: pl.DataFrame, rng: np.random.Generator, w: _World) -> pl.Series:
    m = df.height
    h = header
    if h == "序号":
        return pl.Series(np.arange(1, m + 1)).cast(pl.String)
    if h in ("患者姓名", "姓名", "学生姓名", "当事人姓名"):
        return df["name"].fill_null("")
    if h == "性别":
        return pl.Series(np.where(df["sex"].fill_null(1).to_numpy() == 1, "男", "女").tolist(), dtype=pl.String)
    if h == "年龄":
        return df["age"].cast(pl.String).fill_null("")

    def pick(vals: Sequence[str], blank: float = 0.0) -> pl.Series:
        s = _pick(vals, rng.integers(0, len(vals), m))
        if blank:
            s = pl.Series(np.where(rng.random(m) < blank, "", s.to_numpy()).tolist(), dtype=pl.String)
        return s

    table = {
        "联系电话": None, "备注": ("已核实", "待复核", "外出务工", "", "", "", ""), "帮扶责任人": None,
        "组别": ("一组", "二组", "三组", "四组", "五组"), "文化程度": EDU_LEVELS, "健康状况": HEALTH,
        "医疗机构名称": HOSPITALS, "就诊类型": ("门诊", "住院", "门诊慢特病"), "疾病名称": DISEASES,
        "经办机构": ("魏县医保局", "一站式结算窗口"), "学校名称": SCHOOLS,
        "年级": ("一年级", "二年级", "三年级", "高一", "高二", "高三"),
        "事故地点": PLACES, "事故类型": ACCIDENTS, "责任认定": LIABILITY, "起火地点": FIRE_PLACES,
        "起火原因": FIRE_CAUSES, "灾害类型": DISASTERS, "受灾村组": ("一组", "二组", "三组", "四组"), "核查人": None,
    }
    vals = table.get(h)
    if h == "联系电话":
        nums = pl.Series(rng.integers(10**9, 10**10, m)).cast(pl.String)
        return "1" + nums
    if vals is None:
        return _names(rng, _choice_idx(rng, m, _SURNAME_W), rng.integers(0, 2, m))
    return pick(vals, 0.0)


@dataclass
class _Layout:
    headers: list[tuple[str, str | None]]  # (header text, field or None for an extra)
    titles: list[str]
    total: bool
    blanks: np.ndarray  # insertion points (before data row j, 1 <= j <= D-1), sorted, may repeat
    quote_all: bool
    crlf: bool
    blank_commas: np.ndarray  # per blank: written as ",,,," (True) or "" (False)


def _layout(rng: np.random.Generator, t: _Table, D: int, messy: bool, county: str, year: int) -> _Layout:
    spec = {f: al for f, _, al in FIELDS[t.dept]}
    cols: list[tuple[str, str | None]] = []
    for f in t.fields:
        al = spec[f]
        cols.append((al[int(rng.integers(0, len(al)))] if messy else al[0], f))
    if messy:
        if rng.random() < 0.7:
            order = rng.permutation(len(cols))
            cols = [cols[i] for i in order]
        if rng.random() < 0.55:
            pool = list(EXTRAS[t.dept])
            k = int(rng.integers(1, 4))
            chosen = [pool[i] for i in rng.choice(len(pool), size=min(k, len(pool)), replace=False)]
            used = {h for h, _ in cols}
            for ex in chosen:
                if (ex in ALL_ALIASES and ex not in _EXTRA_ALIAS_OK) or ex in used:
                    continue
                pos = 0 if ex == "序号" else int(rng.integers(0, len(cols) + 1))
                cols.insert(pos, (ex, None))
                used.add(ex)
    titles: list[str] = []
    cname = COUNTY_NAMES.get(county, "某某县")
    if messy:
        nt = int(rng.choice(3, p=[0.35, 0.45, 0.2]))
        if nt:
            tpl = TITLES[t.dept][int(rng.integers(0, len(TITLES[t.dept])))]
            titles.append(tpl.format(county_name=cname, year=year))
        if nt == 2:
            sub = SUBTITLES[int(rng.integers(0, len(SUBTITLES)))]
            export = dt.date(year + 1, 1, 1) + dt.timedelta(days=int(rng.integers(0, 60)))
            titles.append(sub.format(export_date=export.isoformat(), dept_name=DEPT_NAMES[t.dept]))
    total = bool(messy and D >= 1 and rng.random() < (0.25 if t.dept in ("household_register", "members") else 0.5))
    if messy and D >= 2:
        k = int(rng.poisson(0.8 + D * 0.0004))
        if rng.random() < 0.5:
            k = max(k, 1)
        blanks = np.sort(rng.integers(1, D, k))
    else:
        blanks = np.zeros(0, dtype=np.int64)
    return _Layout(
        headers=cols, titles=titles, total=total, blanks=blanks,
        quote_all=bool(messy and rng.random() < 0.15), crlf=bool(messy and rng.random() < 0.5),
        blank_commas=rng.random(len(blanks)) < 0.5,
    )


def _render_table(
    rng: np.random.Generator, t: _Table, w: _World, path: Path, fmt: str, messy: bool
) -> FileManifest:
    df = t.df.sort("_ord", maintain_order=True)
    D = df.height
    lay = _layout(rng, t, D, messy, w.county, w.year)
    n_title = len(lay.titles)
    header_row = n_title + 1
    data_body = np.arange(D) + np.searchsorted(lay.blanks, np.arange(D), side="right")
    blank_body = lay.blanks + np.arange(len(lay.blanks))
    n_body = D + len(lay.blanks) + (1 if lay.total else 0)
    data_rows = header_row + 1 + data_body
    blank_rows = header_row + 1 + blank_body
    total_row = header_row + n_body if lay.total else None

    quote = fmt != "xlsx" and not lay.quote_all
    df = df.with_columns([_cell_text(df, f, t.kinds[f], quote) for f in t.fields])
    extras = {h: _extra_values(h, df, rng, w) for h, f in lay.headers if f is None}
    # an identical repeat repeats the unknown columns too (but for a running 序号)
    dup = np.nonzero((df["_reason"] == "duplicate_event").fill_null(False).to_numpy())[0]
    if len(dup) and extras:
        pos = pl.DataFrame({"_uid": df["_uid"], "p": np.arange(D)})
        src = df.select(pl.col("_copy_of").gather(dup).alias("_uid")).join(
            pos, on="_uid", how="left", maintain_order="left"
        )["p"]
        for h in extras:
            if h != "序号":
                extras[h] = extras[h].scatter(dup, extras[h].gather(src))

    # ---- manifest bits
    rej = df.select(
        pl.Series("row", data_rows), "_reason", "_field", "_also", "_corr_of", "_uid", t.fields[0]
    )
    rejected_rows: list[dict[str, Any]] = []
    rejected: dict[str, list[int]] = {}
    for row, reason, fld, also in rej.filter(pl.col("_reason").is_not_null()).select(
        "row", "_reason", "_field", "_also"
    ).iter_rows():
        item: dict[str, Any] = {"row": int(row), "reason": reason, "field": fld}
        if also:
            item["also"] = also
        rejected_rows.append(item)
        rejected.setdefault(reason, []).append(int(row))
    key = KEY_FIELD[t.dept]
    rowed = df.select("_uid", "_corr_of", key, pl.Series("row", data_rows))
    corr = rowed.filter(pl.col("_corr_of").is_not_null()).join(
        rowed.select(pl.col("_uid").alias("_corr_of"), pl.col("row").alias("replaces_row")), on="_corr_of", how="left"
    ).sort("row")
    corrections = [
        {"row": int(r), "replaces_row": int(o), "id": i}
        for r, o, i in corr.select("row", "replaces_row", key).iter_rows()
    ]
    skipped = {
        "title": list(range(1, n_title + 1)),
        "blank": [int(x) for x in blank_rows],
        "total": [total_row] if total_row else [],
    }
    rows_read = n_title + n_body
    n_rej = len(rejected_rows)
    n_skip = sum(len(v) for v in skipped.values())

    if fmt == "xlsx":
        _write_xlsx(rng, t, df, lay, extras, data_rows, total_row, path)
        encoding = None
        sheet: str | None = _SHEET_NAME
    else:
        encoding = {"gbk": "gb18030", "utf8": "utf-8", "utf8-bom": "utf-8-sig"}[fmt]
        _write_csv(t, df, lay, extras, data_body, blank_body, n_body, path, encoding)
        sheet = None
    return FileManifest(
        name=path.name, department=t.dept, format="xlsx" if fmt == "xlsx" else "csv", encoding=encoding,
        sheet=sheet, header_row=header_row,
        columns=[{"header": h, "field": f} for h, f in lay.headers],
        rows_read=rows_read, rows_used=rows_read - n_rej - n_skip, rows_rejected=n_rej, rows_skipped=n_skip,
        skipped=skipped, rejected={k: rejected[k] for k in sorted(rejected)}, rejected_rows=rejected_rows,
        corrections=corrections,
    )


_SHEET_NAME = "Sheet1"


def _totals_cells(t: _Table, df: pl.DataFrame, lay: _Layout) -> list[tuple[str, int | None]]:
    cells: list[tuple[str, int | None]] = []
    for j, (_h, f) in enumerate(lay.headers):
        if j == 0:
            cells.append(("合计" if len(df) % 3 else "总计", None))
        elif f is not None and t.kinds[f] == "amount":
            s = int(df[f].fill_null(0).sum())
            cells.append((_fen_str(s), s))
        elif f == "members":
            s = int(df["members"].sum())
            cells.append((str(s), None))
        else:
            cells.append(("", None))
    return cells


def _write_csv(
    t: _Table, df: pl.DataFrame, lay: _Layout, extras: Mapping[str, pl.Series], data_body: np.ndarray,
    blank_body: np.ndarray, n_body: int, path: Path, encoding: str,
) -> None:
    exprs = [pl.col(f"_t_{f}") if f is not None else pl.lit(extras[h]) for h, f in lay.headers]
    sep = '","' if lay.quote_all else ","
    line = pl.concat_str(exprs, separator=sep)
    if lay.quote_all:
        line = '"' + line + '"'
    lines = df.select(line.alias("l")).to_series()
    ncols = len(lay.headers)
    body = pl.select(pl.repeat("", n_body, dtype=pl.String).alias("b")).to_series()
    if len(lines):
        body = body.scatter(data_body, lines)
    if len(blank_body):
        commas = "," * (ncols - 1)
        body = body.scatter(blank_body, pl.Series([commas if c else "" for c in lay.blank_commas], dtype=pl.String))
    if lay.total:
        tot = ",".join(('"' + s + '"') if "," in s else s for s, _ in _totals_cells(t, df, lay))
        body = body.scatter([n_body - 1], pl.Series([tot], dtype=pl.String))
    head = ",".join(('"' + h + '"') if lay.quote_all else h for h, _ in lay.headers)
    pad = "," * (ncols - 1)
    title_lines = [tl + (pad if (i + len(tl)) % 2 else "") for i, tl in enumerate(lay.titles)]
    nl = "\r\n" if lay.crlf else "\n"
    top = nl.join([*title_lines, head]) + nl
    with open(path, "wb") as fh:
        if encoding == "gb18030":
            fh.write(top.encode(encoding))
            if n_body:
                fh.write((body.str.join(nl)[0] + nl).encode(encoding))
        else:
            fh.write(top.encode(encoding))  # utf-8-sig writes the BOM here, once
            if n_body:
                body.to_frame("b").write_csv(fh, include_header=False, quote_style="never", line_terminator=nl)


def _write_xlsx(
    rng: np.random.Generator, t: _Table, df: pl.DataFrame, lay: _Layout, extras: Mapping[str, pl.Series],
    data_rows: np.ndarray, total_row: int | None, path: Path,
) -> None:
    import xlsxwriter  # local: only small drops need it

    if len(df) > 1_048_000:
        raise ValueError(f"{t.dept}: {len(df)} rows do not fit an .xlsx sheet")
    wb = xlsxwriter.Workbook(str(path), {
        "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
    })
    wb.set_properties({"created": dt.datetime(2020, 1, 15, 9, 30, 0), "author": "fangpin.synth"})
    ws = wb.add_worksheet(_SHEET_NAME)
    num_fmt = wb.add_format({"num_format": "#,##0.00" if rng.random() < 0.5 else "0.00"})
    date_fmt = wb.add_format({"num_format": ("yyyy-mm-dd", "yyyy/m/d", "yyyy年m月d日")[int(rng.integers(0, 3))]})
    bold = wb.add_format({"bold": True})
    ncols = len(lay.headers)
    for i, tl in enumerate(lay.titles):
        if i == 0 and ncols > 1 and rng.random() < 0.6:
            ws.merge_range(i, 0, i, ncols - 1, tl, bold)
        else:
            ws.write_string(i, 0, tl)
    hr = len(lay.titles)
    for j, (h, _f) in enumerate(lay.headers):
        ws.write_string(hr, j, h, bold)
    cols: list[tuple[Any, ...]] = []
    for h, f in lay.headers:
        if f is None:
            cols.append(("extra", extras[h].to_list(), None, None, None, None))
            continue
        kind = t.kinds[f]
        texts = df[f"_t_{f}"].to_list()
        ov = ((df["_ov1f"] == f) | (df["_ov2f"] == f)).fill_null(False).to_list()
        typed = df[f"_x_{f}"].to_list() if f"_x_{f}" in df.columns else None
        vals = df[f].to_list() if kind in ("amount", "date", "int") else None
        mills = (df[f"_s_{f}"] == 6).to_list() if kind == "amount" else None
        cols.append((kind, texts, ov, typed, vals, mills))
    for i, r in enumerate(data_rows.tolist()):
        rr = r - 1
        for j, (kind, texts, ov, typed, vals, mills) in enumerate(cols):
            txt = texts[i]
            if kind in ("amount", "date", "int") and not ov[i] and typed[i] and vals[i] is not None:
                v = vals[i]
                if kind == "amount" and mills[i] and v >= 1:
                    # three decimals in the cell (read exactly, then half-up): (v - 0.5 fen) -> v
                    ws.write_number(rr, j, (v * 10 - 5) / 1000, num_fmt)
                elif kind == "amount":
                    ws.write_number(rr, j, v / 100, num_fmt)
                elif kind == "date":
                    ws.write_datetime(rr, j, dt.datetime(v.year, v.month, v.day), date_fmt)
                else:
                    ws.write_number(rr, j, v)
            elif txt != "":
                ws.write_string(rr, j, txt)
    if total_row is not None:
        for j, (s, fen) in enumerate(_totals_cells(t, df, lay)):
            if fen is not None:
                ws.write_number(total_row - 1, j, fen / 100, num_fmt)
            elif s:
                ws.write_string(total_row - 1, j, s)
    if rng.random() < 0.3:
        notes = wb.add_worksheet("说明")
        notes.write_string(0, 0, "本表由系统导出，金额单位：元。")
    wb.close()


# ----------------------------------------------------------------------------------------------
# Expected decisions (default 2019 pack, SPEC.md), in integer fen
# ----------------------------------------------------------------------------------------------

_ILLNESS_DED = {"unstable_exit": 500_000, "edge": 2_000_000}
_SCHOOL_DED = 800_000
_DISASTER_DED = 1_000_000


def _tiers(excess: np.ndarray, bounds: Sequence[int], rates: Sequence[int], cap_fen: int) -> np.ndarray:
    """Tiered amount (fen): slices of the excess at rates (percent), capped, then rounded half-up."""
    num = np.zeros_like(excess)
    lo = 0
    for hi, rate in zip([*bounds, None], rates, strict=True):
        top = excess if hi is None else np.minimum(excess, hi)
        num += np.maximum(0, top - lo) * rate
        if hi is not None:
            lo = hi
    num = np.minimum(num, cap_fen * 100)
    out: np.ndarray = (num + 50) // 100
    return out


def _expected(drop: _Drop) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    w = drop.world
    n = w.n
    reg = drop.tables["household_register"].df
    base = reg.filter(pl.col("_uid") < n).sort("hh")
    used = ~drop.hh_bad
    # per capita as a screener reads it
    inc = base["income"].to_numpy() if "income" in drop.tables["household_register"].fields else None
    if "income" in drop.tables["household_register"].fields:
        inc_s = base["income"]
        has_pc = "income_per_capita" in drop.tables["household_register"].fields
        pc_given = base["income_per_capita"] if has_pc else None
        pc = np.where(
            inc_s.is_not_null().to_numpy(),
            _half_up_div(inc_s.fill_null(0).to_numpy(), w.members),
            pc_given.fill_null(0).to_numpy() if pc_given is not None else 0,
        )
    else:
        pc = base["income_per_capita"].to_numpy()
    del inc
    housing_txt = base["housing_secure"].to_numpy()
    housing = np.isin(housing_txt, ["是", "Y", "1"])
    # labour capacity from used member rows
    mem = drop.tables["members"].df.filter(pl.col("_reason").is_null())
    able = np.bincount(mem["hh"].to_numpy(), weights=mem["able"].to_numpy().astype(float), minlength=n) > 0

    def used_events(dept: str) -> pl.DataFrame:
        return drop.tables[dept].df.filter(pl.col("_reason").is_null() & ~pl.col("_superseded"))

    med = used_events("medical")
    burden = (med["total"] - med["basic"] - med["critical"].fill_null(0) - med["assistance"].fill_null(0)).to_numpy()
    ill = np.bincount(med["hh"].to_numpy(), weights=burden, minlength=n).astype(np.int64)
    edu = used_events("education").filter(
        (pl.col("full_time") == "全日制") & ~pl.col("stage").is_in(list(COMPULSORY))
    )
    fees = (edu["tuition"].fill_null(0) + edu["accommodation"].fill_null(0) + edu["textbooks"].fill_null(0)).to_numpy()
    sch = np.bincount(edu["hh"].to_numpy(), weights=fees, minlength=n).astype(np.int64)
    dis = np.zeros(n, dtype=np.int64)
    for dept in ("traffic", "fire", "disaster"):
        e = used_events(dept)
        own = np.maximum(0, (e["loss"].fill_null(0) - e["compensation"].fill_null(0)).to_numpy())
        dis += np.bincount(e["hh"].to_numpy(), weights=own, minlength=n).astype(np.int64)
    # float bincount is exact below 2**53 fen

    group = np.where(w.status == STATUS_EXITED, "unstable_exit", np.where(w.status == STATUS_NEVER, "edge", ""))
    covered = (w.status != STATUS_POOR) & (pc < 480_000)
    dibao = covered & ~able & housing
    ded_ill = np.where(w.status == STATUS_EXITED, _ILLNESS_DED["unstable_exit"], _ILLNESS_DED["edge"])
    a_ill = _tiers(np.maximum(0, ill - ded_ill), (2_000_000, 5_000_000), (50, 60, 70), 10_000_000)
    a_sch = _tiers(np.maximum(0, sch - _SCHOOL_DED), (1_000_000,), (50, 60), 3_000_000)
    a_dis = _tiers(np.maximum(0, dis - _DISASTER_DED), (), (50,), 5_000_000)
    pays = covered & ~dibao
    a_ill, a_sch, a_dis = (np.where(pays, a, 0) for a in (a_ill, a_sch, a_dis))
    payout = a_ill + a_sch + a_dis
    fee = (payout * 15 + 50) // 100
    outcome = np.where(
        ~covered, "not_covered", np.where(dibao, "refer_dibao", np.where(payout > 0, "pay", "below_deductible"))
    )
    group = np.where(covered, group, "")
    hid = w.hh_id.to_list()
    decisions = []
    if n <= EXPECTED_DECISIONS_MAX_HOUSEHOLDS:
        for i in np.nonzero(used)[0].tolist():
            decisions.append({
                "household_id": hid[i], "group": str(group[i]), "outcome": str(outcome[i]),
                "per_capita_income": _fen_str(int(pc[i])), "illness": _fen_str(int(a_ill[i])),
                "schooling": _fen_str(int(a_sch[i])), "disaster": _fen_str(int(a_dis[i])),
                "payout": _fen_str(int(payout[i])), "fee": _fen_str(int(fee[i])),
                "bases": {"illness": _fen_str(int(ill[i])), "schooling": _fen_str(int(sch[i])),
                          "disaster": _fen_str(int(dis[i]))},
                "labour_capacity": bool(able[i]), "housing_secure": bool(housing[i]),
            })
    outc = {k: int(((outcome == k) & used).sum()) for k in
            ("not_covered", "refer_dibao", "below_deductible", "already_paid", "pay")}
    summary = {
        "decisions": int(used.sum()),
        "outcomes": outc,
        "paid_by_cause": {
            "illness": int(((a_ill > 0) & used).sum()), "schooling": int(((a_sch > 0) & used).sum()),
            "disaster": int(((a_dis > 0) & used).sum()),
        },
        "payout_total": _fen_str(int(payout[used].sum())),
        "fee_total": _fen_str(int(fee[used].sum())),
        "illness_total": _fen_str(int(a_ill[used].sum())),
        "schooling_total": _fen_str(int(a_sch[used].sum())),
        "disaster_total": _fen_str(int(a_dis[used].sum())),
    }
    return decisions, summary


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def _choose_formats(
    rng: np.random.Generator, households: int, formats: Mapping[str, str] | str | None
) -> dict[str, str]:
    if isinstance(formats, str):
        out = {d: formats for d in DEPARTMENTS}
    else:
        out = {}
        if households <= XLSX_MAX_HOUSEHOLDS:
            pool = ["gbk", "utf8-bom", "xlsx", "utf8"] + [
                str(x) for x in rng.choice(["gbk", "utf8", "utf8-bom", "xlsx"], size=3, p=[0.35, 0.3, 0.15, 0.2])
            ]
        else:
            pool = ["gbk", "utf8", "utf8-bom"] + [str(x) for x in rng.choice(["gbk", "utf8"], size=4)]
        order = rng.permutation(len(DEPARTMENTS))
        auto = {DEPARTMENTS[int(i)]: pool[j] for j, i in enumerate(order)}
        out = {**auto, **(dict(formats) if formats else {})}
    for d, f in out.items():
        if f not in FORMATS:
            raise ValueError(f"{d}: unknown format {f!r} (one of {FORMATS})")
        if d not in DEPARTMENTS:
            raise ValueError(f"unknown department {d!r}")
    return out


def generate_drop(
    out_dir: Path | str,
    households: int,
    *,
    seed: int = 0,
    year: int = 2019,
    county: str = "130434",
    bad_share: float = 0.02,
    formats: Mapping[str, str] | str | None = None,
    messy: bool = True,
    correction_share: float = 0.005,
    manifest_path: Path | str | None = None,
    designed: Sequence[HouseholdSpec] = (),
    register_columns: str | None = None,
) -> DropManifest:
    """Write one county's synthetic drop into ``out_dir`` and return (and write) its manifest.

    ``formats`` maps a department (``DEPARTMENTS``) to ``"gbk"`` (written as GB18030, GBK-only
    characters), ``"utf8"``, ``"utf8-bom"`` or ``"xlsx"``; a single string applies to all files;
    departments left out are chosen from the seed (``.xlsx`` only when households <=
    ``XLSX_MAX_HOUSEHOLDS``). ``messy=False`` writes canonical headers in EXPORTS.md's order,
    plain amounts and ISO dates, no title/blank/total rows (bad rows still follow ``bad_share``).
    The manifest goes to ``manifest_path`` or, by default, ``<out_dir>.manifest.json`` beside
    the folder, never inside it. ``register_columns`` fixes the register's income columns
    (``"income"``, ``"per_capita"`` or ``"both"``, some income cells then blank); by default the
    seed chooses. ``designed`` households (``HouseholdSpec``) get fixed facts and no injected defect.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence([int(seed), 0x66616E67])
    seeds = ss.spawn(24)  # 0 world, 1 events, 2..14 tables and injection, 15 formats, 16..22 rendering
    world_rng = np.random.default_rng(seeds[0])
    n_outsiders = int(households * 4 * bad_share * 1.5) + 200
    w = _make_world(world_rng, households, year, county, designed, n_outsiders)
    ev_rng = np.random.default_rng(seeds[1])
    events = {
        "medical": _make_medical(ev_rng, w, designed),
        "education": _make_education(ev_rng, w, designed),
        "traffic": _make_losses(ev_rng, w, designed, "traffic"),
        "fire": _make_losses(ev_rng, w, designed, "fire"),
        "disaster": _make_losses(ev_rng, w, designed, "disaster"),
    }
    drop = _build_tables(seeds[2:15], w, events, messy=messy, bad_share=bad_share, correction_share=correction_share,
                         register_columns=register_columns)
    rrng = np.random.default_rng(seeds[15])
    fmts = _choose_formats(rrng, households, formats)
    cname = COUNTY_NAMES.get(county, "某某县")
    files: list[FileManifest] = []
    for dept in DEPARTMENTS:
        names = FILE_NAMES[dept]
        stem = names[int(rrng.integers(0, len(names)))].format(county_name=cname, year=year)
        ext = ".xlsx" if fmts[dept] == "xlsx" else ".csv"
        path = out / f"{stem}{ext}"
        drng = np.random.default_rng(seeds[16 + DEPARTMENTS.index(dept)])
        files.append(_render_table(drng, drop.tables[dept], w, path, fmts[dept], messy))
    decisions, summary = _expected(drop)
    rej: dict[str, int] = {}
    skip: dict[str, int] = {"title": 0, "blank": 0, "total": 0}
    for f in files:
        for r, rows in f.rejected.items():
            rej[r] = rej.get(r, 0) + len(rows)
        for k, rows in f.skipped.items():
            skip[k] += len(rows)
    totals = {
        "rows_read": sum(f.rows_read for f in files),
        "rows_used": sum(f.rows_used for f in files),
        "rows_rejected": sum(f.rows_rejected for f in files),
        "rows_skipped": sum(f.rows_skipped for f in files),
        "rejected": {k: rej[k] for k in sorted(rej)},
        "skipped": skip,
        "corrections": sum(len(f.corrections) for f in files),
    }
    hid = w.hh_id.to_list()
    designed_out = [
        {"household_id": hid[slot], "label": sp.label, "intent": sp.intent}
        for slot, sp in zip(w.designed_slots, designed, strict=True)
    ]
    manifest = DropManifest(
        generator="fangpin.synth", version=GENERATOR_VERSION, seed=int(seed), year=year, county=county,
        households=households, bad_share=bad_share, correction_share=correction_share, messy=messy,
        drop=out.name, files=files, totals=totals,
        expected={
            "pack": "default 2019 pack as specified in SPEC.md (deductibles 5000/20000, 8000, 10000; "
                    "tiers and caps as listed); one run on an empty database",
            "summary": summary,
            "decisions": decisions if households <= EXPECTED_DECISIONS_MAX_HOUSEHOLDS else None,
        },
        designed=designed_out,
    )
    mpath = Path(manifest_path) if manifest_path else out.parent / f"{out.name}.manifest.json"
    mpath.write_text(manifest.to_json(), encoding="utf-8")
    manifest.seconds = time.perf_counter() - t0
    return manifest


DEMO_SEED = 20190111
DEMO_HOUSEHOLDS = 40
DEMO_FORMATS = {
    "household_register": "gbk",
    "members": "xlsx",
    "medical": "utf8-bom",
    "education": "xlsx",
    "traffic": "utf8",
    "fire": "gbk",
    "disaster": "utf8-bom",
}


def generate_demo(out_dir: Path | str, manifest_path: Path | str | None = None) -> DropManifest:
    """The shipped demo drop (fixtures/demo): 40 households, 15 of them designed (DEMO_SPECS)."""
    return generate_drop(
        out_dir, DEMO_HOUSEHOLDS, seed=DEMO_SEED, bad_share=0.05, formats=DEMO_FORMATS, messy=True,
        correction_share=0.02, manifest_path=manifest_path, designed=DEMO_SPECS, register_columns="both",
    )
