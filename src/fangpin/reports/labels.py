"""Chinese labels for the office's report."""

from __future__ import annotations

REASONS = {
    "bad_id_number": "身份证号校验失败",
    "bad_amount": "金额无法识别或为负",
    "bad_date": "日期无效",
    "bad_members": "家庭人口数无效",
    "bad_status": "户类型无法识别",
    "bad_stage": "学段无法识别",
    "bad_value": "取值无法识别",
    "inconsistent_amounts": "金额不一致",
    "duplicate_household": "户编号重复",
    "duplicate_person": "人员重复",
    "duplicate_event": "重复记录",
    "unknown_household": "底册中无此户",
    "unknown_person": "无法关联到户",
    "outside_policy_year": "不在本政策年度",
    "title": "标题行",
    "blank": "空行",
    "total": "合计行",
}
OUTCOMES = {
    "not_covered": "不在救助范围",
    "refer_dibao": "纳入低保兜底",
    "below_deductible": "未超起付线",
    "already_paid": "本年已赔付",
    "pay": "赔付",
}
DEPARTMENTS = {
    "register": "防贫对象底册", "members": "家庭成员", "medical": "医保结算", "education": "教育",
    "traffic": "交警", "fire": "消防", "disaster": "应急/民政",
}
