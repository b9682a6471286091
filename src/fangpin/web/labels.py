"""Chinese labels of the console: fangpin's one vocabulary (``fangpin.labels``: roles, claim states and steps,
reasons, outcomes, fields, encodings) and how the console shows a claim step's record."""

from __future__ import annotations

from fangpin.labels import (
    BASIS,
    DEPARTMENTS,
    ENCODINGS,
    FACTS,
    FIELDS,
    OPENED_BY,
    OUTCOMES,
    READ_KINDS,
    REASONS,
    RECORD_KEYS,
    ROLES,
    SEARCHED_BY,
    STAGES,
    STATES,
    STEPS,
    encoding_label,
    field_label,
)

STEPS_OF_STAGES = {"event ledger": "事件台账", "decisions": "判定", "payments": "赔付记录", "commit": "提交"}
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


__all__ = ["BASIS", "DEPARTMENTS", "ENCODINGS", "FACTS", "FIELDS", "OPENED_BY", "OUTCOMES", "READ_KINDS", "REASONS",
           "RECORD_KEYS", "ROLES", "SEARCHED_BY", "STAGES", "STATES", "STEPS", "STEPS_OF_STAGES", "encoding_label",
           "field_label", "record_lines"]
