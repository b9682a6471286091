"""fangpin's one vocabulary for people: the Chinese of every field, rejection reason, outcome, role, claim
state and step, error and encoding that fangpin itself defines, used by the console, the terminal, the
workbook and the API's problem details alike. Chinese first; the English code stays beside it only where an
engineer reads it (the terminal's ``both``, the API's ``type`` and ``field``).

What a rule pack defines (its groups, causes, vocabulary codes, derived facts, rules and parameters) is
labelled by the pack itself (``Pack.people_labels``, docs/packs.md "Labels: what people read"): a cause
or group is never named here. Pure data and a few pure functions: no import of anything of fangpin's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

ROLES = {
    "office": "防贫办",
    "surveyor": "保险公司查勘员",
    "village": "村(评议公示)",
    "department": "县直部门(信息比对)",
    "auditor": "审计",
}
STATES = {
    "opened": "已立案",
    "surveyed": "已入户查勘",
    "publicised": "公示中",
    "cross_checked": "已部门比对",
    "filed": "已备案",
    "paid": "已赔付",
    "rejected": "已驳回",
}
STEPS = {
    "surveyed": "入户查勘",
    "publicised": "乡村评议公示",
    "cross_checked": "部门信息比对",
    "filed": "防贫机构备案",
    "paid": "保险公司实施救助",
    "rejected": "驳回",
    "opened": "立案",
}
OPENED_BY = {"screening": "筛查(自上而下)", "application": "申请(自下而上)"}
OUTCOMES = {
    "not_covered": "不在救助范围",
    "refer_dibao": "纳入低保兜底",
    "below_deductible": "未超起付线",
    "already_paid": "本年已赔付",
    "pay": "赔付",
}
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
    "not_in_pack": "本规则包不含此类救助(跳过)",
}
DEPARTMENTS = {
    "register": "防贫对象底册", "members": "家庭成员", "medical": "医保结算", "education": "教育",
    "traffic": "交警", "fire": "消防", "disaster": "应急/民政",
}
STAGES = {
    "upload": "上传文件",
    "hashing": "计算文件哈希",
    "reading": "读取导出文件",
    "linking": "关联农户与事件",
    "deciding": "逐户判定",
    "writing": "写出结果文件",
    "storing": "写入数据库",
    "report": "生成报表",
}
BASIS = {"source": "原文", "assumed": "假定值", "inferred": "推定"}
ACCESS = {"full": "完整", "masked": "遮盖", "withheld": "不提供"}
USER_STATES = {"active": "启用", "disabled": "已停用", "expired": "已过期"}
# What an access-log row read (``services.access_log``: a route's kind, or a search).
READ_KINDS = {"file": "文件下载", "decision": "判定", "household": "农户", "claim": "理赔", "audit": "审计",
              "run": "运行", "fund": "基金", "screening": "筛查", "page": "页面", "search": "查询"}
# What a search was by, as the access log keeps it (``privacy.query_trace``: ``household:1304``, ``id:…``).
SEARCHED_BY = {"household": "按户编号", "id": "按身份证号", "name": "按姓名"}
# How a department's export was read (run.json ``inputs[].encoding``).
ENCODINGS = {
    "utf-8": "通用编码文本(UTF-8)",
    "utf-8-sig": "通用编码文本(UTF-8,带签名)",
    "gb18030": "国标中文编码文本(GB18030)",
    "gbk": "国标中文编码文本(GBK)",
    "xlsx": "电子表格工作簿(.xlsx)",
}
# The household's own facts, as the console shows them.
FACTS = {
    "status": "户类型",
    "members": "家庭人口",
    "per_capita_income": "人均可支配收入",
    "labour_capacity": "有劳动能力",
    "housing_secure": "住房安全有保障",
}
# Every field a person can get wrong or read, by its code (a request's field, a column, a record's key).
FIELDS = {
    **FACTS,
    # a household document and the result files
    "county": "县(区)代码", "township": "乡镇", "village": "村", "year": "政策年度", "household_id": "户编号",
    "head_id": "户主身份证号", "head_name": "户主姓名", "id_number": "身份证号", "name": "姓名",
    "income": "家庭年收入", "income_per_capita": "人均可支配收入", "paid_this_year": "本年已赔付",
    "person_id": "人员身份证号", "date": "日期", "group": "类别", "outcome": "判定结果", "payout": "赔付(元)",
    "fee": "服务费(元)", "rules": "触发规则", "file": "文件", "row": "行号", "field": "字段", "value": "原值",
    "reason": "理由", "department": "部门", "document": "农户资料",
    # a claim's steps
    "to": "办理步骤", "version": "版本号", "opened_by": "立案方式", "decision_id": "判定编号",
    "visit_date": "入户日期", "findings": "查勘情况", "verified": "核实金额", "deliberation": "评议",
    "result": "评议结果", "notes": "说明", "publicity_start": "公示开始日期", "objections": "异议",
    "raised_by": "提出人", "text": "内容", "upheld": "异议成立", "confirmations": "部门确认",
    "confirmed": "确认", "reference": "文号", "filing_number": "备案编号", "amount_decided": "备案金额(元)",
    "causes": "分项(元)", "payment_reference": "支付流水号", "amount": "金额", "paid_on": "支付日期",
    "step": "驳回时状态",
    # the console's and the API's other inputs
    "pack": "规则包", "run": "运行编号", "decision": "判定编号", "q": "查询内容", "page": "页码",
    "size": "每页条数", "household": "户编号", "user": "用户", "token": "口令", "role": "角色", "scope": "范围",
    "state": "状态", "input": "财政投入", "body": "请求内容", "claim_id": "理赔编号", "run_id": "运行编号",
}
RECORD_KEYS = {
    **{key: FIELDS[key] for key in (
        "opened_by", "decision_id", "outcome", "visit_date", "findings", "deliberation", "publicity_start",
        "objections", "confirmations", "filing_number", "amount_decided", "causes", "payment_reference", "paid_on",
        "fee", "reason", "step")},
    "payout": "赔付(元)", "verified": "核实金额(元)", "amount": "支付金额(元)",
}
# The API's problem titles (machine codes, kept in English in ``title`` and ``type``) in the console's words.
PROBLEMS = {
    "Malformed body": "请求格式有误",
    "Not authenticated": "未登录",
    "Too many attempts": "尝试次数过多",
    "Not allowed": "无权操作",
    "Not found": "未找到",
    "Method not allowed": "不支持此操作",
    "Conflict": "与当前状态冲突",
    "Invalid request": "填写有误",
    "Database unavailable": "数据库不可用",
    "Database busy": "数据库繁忙",
    "Rule pack error": "规则包错误",
    "Rule engine error": "规则引擎错误",
    "Internal error": "内部错误",
    "Payload too large": "上传内容过大",
    "HTTP error": "请求错误",
}
STATUS_TITLES = {400: "请求格式有误", 401: "未登录", 403: "无权操作", 404: "未找到", 405: "不支持此操作",
                 409: "与当前状态冲突", 413: "上传内容过大", 422: "填写有误", 429: "尝试次数过多",
                 500: "内部错误", 503: "数据库不可用"}


def label(table: Mapping[str, str], code: object) -> str:
    """A code's Chinese from one of the tables above; an unknown code as it is (never a KeyError)."""
    return table.get(str(code), str(code))


def both(table: Mapping[str, str], code: object) -> str:
    """Chinese first with the code beside it, for a terminal an engineer reads too: "防贫办 office"."""
    text = str(code)
    named = table.get(text)
    return f"{named} {text}" if named and named != text else text


def roles_text(roles: Iterable[str]) -> str:
    """Roles as one phrase: "保险公司查勘员或村(评议公示)"."""
    return "或".join(label(ROLES, role) for role in sorted(roles)) or "无人"


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_label(path: str | None, causes: Mapping[str, str] | None = None) -> str:
    """A field path as people read it: ``verified.illness`` → "核实金额·因病" (``causes``: the deciding pack's
    labels), ``confirmations[0].department`` → "部门确认第1行·部门". A part fangpin does not name is kept."""
    if not path:
        return "请求内容"
    names = {**FIELDS, **(causes or {})}
    shown: list[str] = []
    for name, index in _PART.findall(path):
        if index:
            if shown:
                shown[-1] += f"第{int(index) + 1}行"
            else:
                shown.append(f"第{int(index) + 1}行")
        else:
            shown.append(names.get(name, name))
    return "·".join(shown) or path


def encoding_label(encoding: str | None) -> str:
    """How a file was read, in words: ``gb18030`` → "国标中文编码文本(GB18030,…)"."""
    if not encoding:
        return "—"
    return ENCODINGS.get(encoding.lower(), encoding)


def _limit(context: Mapping[str, Any], key: str) -> str:
    return str(context.get(key, ""))


def validation_message(error: Mapping[str, Any]) -> str:
    """What a pydantic error says, in Chinese and without the field (the caller names it): the error's
    ``type`` picks the sentence; a ValueError of fangpin's own (already Chinese) is kept as it is."""
    kind = str(error.get("type", ""))
    context: Mapping[str, Any] = error.get("ctx") or {}
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if kind == "missing":
        return "必须填写"
    if kind == "extra_forbidden":
        return "不是可填写的项目,请删除"
    if kind in ("string_too_long", "too_long"):
        return f"过长(最多 {_limit(context, 'max_length')} 个字符)" if kind == "string_too_long" else (
            f"条目过多(最多 {_limit(context, 'max_length')} 条)")
    if kind in ("string_too_short", "too_short"):
        return "不能为空" if _limit(context, "min_length") in ("", "1") else (
            f"至少需要 {_limit(context, 'min_length')} {'个字符' if kind == 'string_too_short' else '条'}")
    if kind.startswith(("date_", "datetime_")):
        return "不是有效日期,请按 2025-03-01 的格式填写"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "应为整数"
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type"):
        return "应为数字金额,如 12000.00"
    if kind in ("decimal_max_places", "decimal_max_digits", "decimal_whole_digits"):
        return "位数过多(金额最多两位小数)"
    if kind in ("bool_parsing", "bool_type"):
        return "应为 是 或 否"
    if kind in ("greater_than_equal", "greater_than"):
        return f"不能小于{'或等于' if kind == 'greater_than' else ''} {_limit(context, 'ge') or _limit(context, 'gt')}"
    if kind in ("less_than_equal", "less_than"):
        return f"不能大于{'或等于' if kind == 'less_than' else ''} {_limit(context, 'le') or _limit(context, 'lt')}"
    if kind in ("literal_error", "enum"):
        return f"取值无效(可选:{_limit(context, 'expected')})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return f"不是可办理的步骤(可选:{'、'.join(STEPS.get(step, step) for step in STEPS if step != 'opened')})"
    if kind in ("string_type", "dict_type", "list_type", "tuple_type", "model_type", "model_attributes_type"):
        return "格式不对"
    if kind == "json_invalid":
        return "不是有效的 JSON 文档"
    if kind == "string_pattern_mismatch":
        return "格式不对"
    if re.search(r"[\u4e00-\u9fff]", message):
        return message
    return f"取值无效({message})" if message else "取值无效"


__all__ = ["ACCESS", "BASIS", "DEPARTMENTS", "ENCODINGS", "FACTS", "FIELDS", "OPENED_BY", "OUTCOMES", "PROBLEMS",
           "READ_KINDS", "REASONS", "RECORD_KEYS", "ROLES", "SEARCHED_BY", "STAGES", "STATES", "STATUS_TITLES", "STEPS",
           "USER_STATES", "both", "encoding_label", "field_label", "label", "roles_text", "validation_message"]
