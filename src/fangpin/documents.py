"""Household documents from YAML or JSON files or text, read exactly, with errors that name the field."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fangpin.errors import DocumentError
from fangpin.exactyaml import load_json, load_yaml
from fangpin.facts import HOUSEHOLD_KEYS, Household
from fangpin.labels import field_label, validation_message


def read_document(path: Path | str) -> Household:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DocumentError(f"{path}: 无法读取: {exc.strerror}:请检查文件路径和权限", source=str(path)) from None
    except UnicodeDecodeError:
        raise DocumentError(f"{path}: 不是 UTF-8 编码的文本:请另存为 UTF-8 编码后再试", source=str(path)) from None
    return parse_document(text, source=str(path), json_text=path.suffix.lower() == ".json")


def parse_document(text: str, *, source: str = "<document>", json_text: bool = False) -> Household:
    try:
        data = load_json(text) if json_text else load_yaml(text)
    except Exception as exc:  # json and yaml raise many kinds; all mean the same to the user
        raise DocumentError(f"{source}: {_where(exc)}不是有效的 {'JSON' if json_text else 'YAML'}: {_what(exc)}:"
                            "请检查这一处的缩进、冒号和引号", source=source) from None
    return household_from(data, source=source)


def _where(exc: Exception) -> str:
    """``line L, column C: `` of a parse error (yaml marks count from 0, json's from 1), or nothing."""
    if isinstance(exc, json.JSONDecodeError):
        return f"第 {exc.lineno} 行第 {exc.colno} 列: "
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"第 {mark.line + 1} 行第 {mark.column + 1} 列: " if mark is not None else ""


def _what(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, yaml.MarkedYAMLError):  # its str() names "<unicode string>", not the file
        return "; ".join(part for part in (exc.context, exc.problem) if part)
    return str(exc)


def household_from(data: Any, *, source: str = "<document>") -> Household:
    if not isinstance(data, dict):
        raise DocumentError(f"{source}: 农户资料应是由字段组成的映射(每行 字段: 值):"
                            "请对照 docs/policy.md 第 9 节的示例", source=source)
    try:
        return Household.model_validate(data)
    except ValidationError as exc:
        raise document_error(exc, source) from None


def document_error(exc: ValidationError, source: str) -> DocumentError:
    """The error that explains the others first: a misspelled key (``membrs``) is reported as an unknown field
    with the field meant, not as the required field it leaves missing."""
    errors = exc.errors()
    unknown = [error for error in errors if error["type"] == "extra_forbidden"]
    first = unknown[0] if unknown else errors[0]
    field = _field_path(first["loc"])
    message = validation_message(first)
    explained: set[str] = set()
    if unknown:
        meant = _meant(field)
        message = "不是可填写的项目" + (f";是否想写 {_named(meant)}?" if meant else "")
        if meant:
            explained.add(meant)
    if not field and ": " in message:  # a whole-document check that names its own field
        field, message = message.split(": ", 1)
    rest = [error for error in errors if error is not first
            and not (error["type"] == "missing" and _field_path(error["loc"]) in explained)]
    more = f"(另有 {len(rest)} 处有误)" if rest else ""
    return DocumentError(f"{source}: {_named(field or 'document')}:{message}{more}", field=field or None,
                         source=source)


def _named(field: str) -> str:
    """A field as the terminal and the API show it: its path, and its label beside it where fangpin has one."""
    shown = field_label(field)
    return field if shown == field else f"{field}({shown})"


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    if loc[:1] == ("events",):  # the cause lists sit at the top of the document, as the user wrote them
        loc = loc[1:]
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "decimal", "is-instance")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def _meant(field: str) -> str | None:
    """The household field a misspelled top-level key most likely means."""
    if "." in field or "[" in field:
        return None
    known = sorted(HOUSEHOLD_KEYS - {"events"})
    close = difflib.get_close_matches(field, known, n=1, cutoff=0.6)
    return close[0] if close else None
