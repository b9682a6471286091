"""Chinese labels of the console: roles, claim states and steps, causes, screening stages. The report's own
labels (reasons, outcomes, groups, departments) come from ``fangpin.reports.labels``."""

from __future__ import annotations

from fangpin.reports.labels import DEPARTMENTS, OUTCOMES, REASONS

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
STEPS_OF_STAGES = {"event ledger": "事件台账", "decisions": "判定", "payments": "赔付记录", "commit": "提交"}
FACTS = {
    "status": "户类型",
    "members": "家庭人口",
    "per_capita_income": "人均可支配收入",
    "labour_capacity": "有劳动能力",
    "housing_secure": "住房安全有保障",
}

BASIS = {"source": "原文", "assumed": "假定值", "inferred": "推定"}
RECORD_KEYS = {
    "opened_by": "立案方式", "decision_id": "判定编号", "outcome": "判定结果", "payout": "赔付(元)",
    "visit_date": "入户日期", "findings": "查勘情况", "verified": "核实金额(元)", "deliberation": "评议",
    "publicity_start": "公示开始", "objections": "异议", "confirmations": "部门确认", "filing_number": "备案编号",
    "amount_decided": "备案金额(元)", "causes": "分项(元)", "payment_reference": "支付流水号", "amount": "支付金额(元)",
    "paid_on": "支付日期", "fee": "服务费(元)", "reason": "理由", "step": "驳回时状态",
}
_VALUE_KEYS = {"per_capita_income": "人均收入", "result": "结果", "notes": "说明", "raised_by": "提出人",
               "text": "内容", "upheld": "成立", "department": "部门", "confirmed": "确认", "reference": "文号"}
_VALUES = {**OPENED_BY, **OUTCOMES, **STATES, "approved": "通过", "not_approved": "未通过"}


def _value(value: object, names: dict[str, str]) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return " · ".join(f"{names.get(str(k)) or _VALUE_KEYS.get(str(k), str(k))} {_value(v, names)}"
                          for k, v in value.items() if v is not None)
    if isinstance(value, list | tuple):
        return ";".join(_value(item, names) for item in value) or "—"
    return _VALUES.get(str(value), str(value))


def record_lines(record: dict[str, object], names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """What a claim's step recorded, as labelled lines for people to read; ``names`` are the labels of the
    deciding pack's causes (a step's amounts per cause are keyed by cause id)."""
    return [(RECORD_KEYS.get(key, key), _value(value, names or {})) for key, value in record.items()]


__all__ = ["BASIS", "DEPARTMENTS", "FACTS", "OPENED_BY", "OUTCOMES", "REASONS", "RECORD_KEYS",
           "ROLES", "STAGES", "STATES", "STEPS", "STEPS_OF_STAGES", "record_lines"]
