"""The export contract the generator writes to (docs/exports.md section 3) and the vocabulary it draws from.

Departments, each field with its kind and header aliases in the contract's column order, the reject
reasons injected per file, file names and titles, and the names, places and codes of the synthetic world.
"""

from __future__ import annotations

import numpy as np

GENERATOR_VERSION = 1
XLSX_MAX_HOUSEHOLDS = 20_000
"""Above this many households no file is written as .xlsx (auto formats)."""
EXPECTED_DECISIONS_MAX_HOUSEHOLDS = 20_000
"""Above this many households the manifest carries only a summary of the expected decisions."""

DEPARTMENTS = ("household_register", "members", "medical", "education", "traffic", "fire", "disaster")
EVENT_DEPARTMENTS = ("medical", "education", "traffic", "fire", "disaster")
ACCIDENT = "accident"
"""The accident export (意外伤害, docs/exports.md section 5): written only when asked for (``accidents=True``),
never part of ``DEPARTMENTS``, so that drops without it stay byte-identical."""
FORMATS = ("gbk", "utf8", "utf8-bom", "xlsx")

# field, kind, header aliases (the first is canonical): docs/exports.md section 3, in its column order.
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
    "accident": (
        ("event_id", "text", ("事故编号", "报案号")),
        ("id_number", "id", ("伤者身份证号", "身份证号")),
        ("date", "date", ("事故日期", "出险日期")),
        ("loss", "amount", ("损失金额", "医疗及误工损失")),
        ("compensation", "amount", ("已获赔偿", "赔偿金额")),
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
    "accident": "event_id",
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
    "accident": ("bad_id_number", "bad_date", "bad_amount", "duplicate_event", "unknown_person", "outside_policy_year"),
}
# What a screener does with these rows under a pack that reads no accidents (the Handan packs): rows failing
# a value check are still rejected; every other data row is skipped as ``not_in_pack``.
VALUE_REASONS = ("bad_id_number", "bad_amount", "bad_date", "bad_members", "bad_status", "bad_stage", "bad_value")
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
    "accident": ("意外伤害", "意外伤害出险明细", "{year}年意外伤害事故"),
}
TITLES = {
    "household_register": ("{county_name}{year}年防贫对象底册", "{county_name}农户收入及家庭情况台账"),
    "members": ("{county_name}防贫对象家庭成员信息", "家庭成员花名册"),
    "medical": ("{county_name}医保结算数据导出", "{county_name}城乡居民医保结算明细（{year}年度）"),
    "education": ("{county_name}教育局学生缴费信息", "{year}年学生缴费明细"),
    "traffic": ("{county_name}公安交警大队事故当事人信息", "交通事故财产损失统计"),
    "fire": ("{county_name}消防救援大队火灾统计", "火灾直接财产损失统计表"),
    "disaster": ("{county_name}应急管理局灾情统计", "{year}年自然灾害损失核查表"),
    "accident": ("{county_name}意外伤害出险信息", "{year}年意外伤害损失统计表"),
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
    "accident": "县应急管理局",
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
    "accident": ("序号", "伤者姓名", "伤情", "出险原因", "承保机构"),
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
INJURIES = ("骨折", "烧烫伤", "软组织挫伤", "颅脑损伤", "割伤")
ACCIDENT_CAUSES = ("跌倒摔伤", "农机事故", "交通事故", "动物咬伤", "溺水", "其他")
INSURERS = ("中国人寿", "中国人保", "太平洋保险", "无")
EDU_LEVELS = ("小学", "初中", "高中", "大专", "本科", "文盲")
HEALTH = ("健康", "长期慢性病", "大病", "残疾")

_FW_FROM = list("0123456789")
_FW_TO = [chr(0xFF10 + i) for i in range(10)]
_CHECK_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = "10X98765432"
