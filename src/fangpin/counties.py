"""County names by administrative division code (GB/T 2260), from the table shipped in ``data/counties.yaml``:
people read 魏县 (130434), never a bare 130434. A code the table does not hold is shown as the code itself.

Pure data: no database, no web."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import yaml


@cache
def table() -> dict[str, str]:
    """Every code the shipped table names, as {code: name}."""
    data = yaml.safe_load(files("fangpin").joinpath("data/counties.yaml").read_text(encoding="utf-8"))
    return {str(code): str(name) for code, name in (data.get("codes") or {}).items()}


def source() -> str:
    """Where the table's codes come from (its ``source`` note)."""
    data = yaml.safe_load(files("fangpin").joinpath("data/counties.yaml").read_text(encoding="utf-8"))
    return str(data.get("source", "")).strip()


def name_of(code: str | None) -> str | None:
    """The county's name (魏县), or None for a code the table does not hold."""
    return None if code is None else table().get(str(code).strip())


def label(code: str | None) -> str:
    """How people read a county: ``魏县 (130434)``; an unknown code as itself; none as ``—``."""
    if code is None or not str(code).strip():
        return "—"
    code = str(code).strip()
    name = name_of(code)
    return f"{name} ({code})" if name else code
