"""Household documents from YAML or JSON files or text, read exactly, with errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fangpin.errors import DocumentError
from fangpin.exactyaml import load_json, load_yaml
from fangpin.facts import Household


def read_document(path: Path | str) -> Household:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError:
        raise DocumentError(f"{path}: is not UTF-8 text", source=str(path)) from None
    return parse_document(text, source=str(path), json_text=path.suffix.lower() == ".json")


def parse_document(text: str, *, source: str = "<document>", json_text: bool = False) -> Household:
    try:
        data = load_json(text) if json_text else load_yaml(text)
    except Exception as exc:  # json and yaml raise many kinds; all mean the same to the user
        raise DocumentError(f"{source}: not valid {'JSON' if json_text else 'YAML'}: {exc}", source=source) from None
    return household_from(data, source=source)


def household_from(data: Any, *, source: str = "<document>") -> Household:
    if not isinstance(data, dict):
        raise DocumentError(f"{source}: a household document is a mapping of fields", source=source)
    try:
        return Household.model_validate(data)
    except ValidationError as exc:
        raise document_error(exc, source) from None


def document_error(exc: ValidationError, source: str) -> DocumentError:
    first = exc.errors()[0]
    field = _field_path(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if not field and ": " in message:  # a whole-document check that names its own field
        field, message = message.split(": ", 1)
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return DocumentError(f"{source}: {field or 'document'}: {message}{more}", field=field or None, source=source)


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
