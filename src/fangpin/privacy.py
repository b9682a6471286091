"""Who sees which personal field: the one policy of least privilege (docs/privacy.md), and the masks.

Personal fields are the household head's and members' ID numbers (身份证号), their names, and the household
document a single check or an application stored (which holds both, and incomes and costs). Each role sees
a field in full only when its step of the claim's path (docs/policy.md section 6) needs it:

- ``office`` (the prevention office) screens, files claims and answers for the register: everything in full.
- ``surveyor`` (the insurer) visits the household, checks who they are against their ID card and pays them:
  everything in full.
- ``village`` publicises the claim by the head's name in the village (公示 names the household): names in
  full; ID numbers masked; the stored document withheld.
- ``department`` cross-checks against its own records, which it keys by its own copy of the ID numbers:
  ID numbers and names masked, the document withheld.
- ``auditor`` replays decisions and reads logs: facts and amounts, never identities; ID numbers and names
  masked, the document withheld.

Pure: no database, no web. Every place personal data leaves (the API, the console, the result files and
the workbook) asks ``shows`` or calls the masks here; nowhere else decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Field = Literal["id_number", "name", "document"]
Access = Literal["full", "masked", "withheld"]
FIELDS: tuple[Field, ...] = ("id_number", "name", "document")

POLICY: dict[str, dict[Field, Access]] = {
    "office": {"id_number": "full", "name": "full", "document": "full"},
    "surveyor": {"id_number": "full", "name": "full", "document": "full"},
    "village": {"id_number": "masked", "name": "full", "document": "withheld"},
    "department": {"id_number": "masked", "name": "masked", "document": "withheld"},
    "auditor": {"id_number": "masked", "name": "masked", "document": "withheld"},
}
# Why, in one line per role (shown in docs/privacy.md and the API's description).
REASONS: dict[str, str] = {
    "office": "screens, files claims and answers for the register",
    "surveyor": "visits the household, checks its members' ID cards and pays them",
    "village": "publicises the claim by the head's name; needs no ID number",
    "department": "confirms against its own records by household id; needs no identity from fangpin",
    "auditor": "replays decisions and reads the logs: facts and amounts, not identities",
}

# Field names that hold an ID number or a name, in the stored document, the result files and the workbook.
ID_FIELDS = frozenset({"head_id", "id_number", "当事人身份证号", "身份证号", "参保人身份证号", "户主身份证号",
                       "学生身份证号"})
NAME_FIELDS = frozenset({"head_name", "name", "户主姓名", "姓名", "户主"})
ID_PATTERN = r"^[0-9０-９]{15,17}[0-9０-９XxＸｘ]?$"
_ID_LIKE = re.compile(ID_PATTERN)


def access(role: str, field: Field) -> Access:
    """How ``role`` sees ``field``; an unknown role sees nothing in full."""
    return POLICY.get(role, {}).get(field, "withheld" if field == "document" else "masked")


def shows(role: str, field: Field) -> bool:
    """Whether ``role`` sees ``field`` in full."""
    return access(role, field) == "full"


def mask_id(value: str | None) -> str | None:
    """An ID number with its first 6 and last 4 characters shown: 130434********1234. Text too short to be
    one is starred out entirely."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return text
    if len(text) < 12:
        return "*" * len(text)
    return f"{text[:6]}********{text[-4:]}"  # always 8 stars: the length is not told either


def mask_name(value: str | None) -> str | None:
    """A name with its first character shown: 张*, 欧阳**."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) <= 1:
        return text
    return text[0] + "*" * (len(text) - 1)


def looks_like_id(value: str | None) -> bool:
    return bool(value) and bool(_ID_LIKE.match(str(value).strip()))


def id_for(role: str, value: str | None) -> str | None:
    return value if shows(role, "id_number") else mask_id(value)


def name_for(role: str, value: str | None) -> str | None:
    return value if shows(role, "name") else mask_name(value)


def document_for(role: str, document: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The stored household document as ``role`` may see it: in full, or None (withheld)."""
    if document is None or not shows(role, "document"):
        return None
    return dict(document)


def row_for(role: str, row: Mapping[str, Any], *, id_fields: Iterable[str] = ID_FIELDS,
            name_fields: Iterable[str] = NAME_FIELDS) -> dict[str, Any]:
    """A row of a table (a result file, a search hit) with its ID-number and name columns as ``role`` sees
    them."""
    ids, names = frozenset(id_fields), frozenset(name_fields)
    shown = dict(row)
    for key, value in row.items():
        if key in ids and isinstance(value, str):
            shown[key] = id_for(role, value)
        elif key in names and isinstance(value, str):
            shown[key] = name_for(role, value)
    return shown


def rejected_value_for(role: str, field: str | None, value: str | None) -> str | None:
    """The value of a rejected row (rejections.csv ``value``) as ``role`` sees it: an ID number (a field of
    ``ID_FIELDS``, or anything shaped like one, as ``unknown_person`` and ``bad_id_number`` rows hold) is
    masked, a name too, for roles that may not see them."""
    if value is None:
        return None
    if (field in ID_FIELDS or looks_like_id(value)) and not shows(role, "id_number"):
        return mask_id(value)
    if field in NAME_FIELDS and not shows(role, "name"):
        return mask_name(value)
    return value


def query_trace(query: str) -> str:
    """What the access log keeps of a search: an ID number masked (never the number searched in clear), a
    name masked to its first character, a household id as typed."""
    text = query.strip()
    if looks_like_id(text) or (len(text) >= 12 and text.isdigit()):
        return f"id:{mask_id(text)}"
    if text and not any(ch.isdigit() for ch in text):
        return f"name:{mask_name(text)}"
    return f"household:{text[:64]}"


# --- scopes: a user confined to a township, or to one village of it ----------------------------------

def parse_scope(scope: str | None) -> tuple[str, str | None] | None:
    """``"东代固镇"`` or ``"东代固镇/中段村"`` (the register's township and village names, docs/exports.md) as
    (township, village or None); None for no scope. Raises ValueError naming what is wrong."""
    if scope is None or not scope.strip():
        return None
    township, _, village = scope.strip().partition("/")
    township, village = township.strip(), village.strip()
    if not township or "/" in village or (_ and not village) or len(scope) > 200:
        raise ValueError(f"{scope!r} is not a township or township/village (e.g. 东代固镇 or 东代固镇/中段村)")
    return township, village or None


def in_scope(scope: str | None, township: str | None, village: str | None) -> bool:
    """Whether a household of this township and village lies within the scope (no scope: everywhere)."""
    parsed = parse_scope(scope)
    if parsed is None:
        return True
    return township == parsed[0] and (parsed[1] is None or village == parsed[1])
