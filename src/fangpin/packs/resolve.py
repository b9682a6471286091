"""A pack's files as data, with the pack it extends merged in: what is validated, hashed and stored.

A pack whose ``pack.yaml`` says ``extends: OTHER`` (another pack's id, found beside it, or a relative
folder) states only what changes (docs/packs.md, "Next year's pack"):

- ``pack.yaml``: its own identity (id, title, version, years, source, …); ``format`` is inherited;
- ``parameters.yaml`` (optional): each parameter it names replaces the base's whole entry or is added;
  ``NAME: null`` removes one;
- ``rules.yaml`` (optional): list sections (``causes``, ``derived``, ``groups``, ``rules``, ``benefits``)
  merge by ``id`` (an entry replaces the base's entry of that id, or is added at the end;
  ``{id: X, remove: true}`` removes it); mapping sections (``vocabularies``) merge by key; any other
  section (``fee``, ``bases``) replaces the base's.

The result is a whole pack: its hash is that of the resolved content, and it is stored as resolved files,
so a stored pack never depends on another folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from fangpin.errors import PackError
from fangpin.exactyaml import load_yaml

PACK_FILES = ("pack.yaml", "parameters.yaml", "rules.yaml")
_LIST_SECTIONS = ("causes", "derived", "groups", "rules", "benefits")
_MAP_SECTIONS = ("vocabularies",)


@dataclass(frozen=True)
class RawPack:
    directory: Path
    meta: Any
    parameters: Any
    rules: Any
    files: dict[str, str]  # what is stored: the folder's own files, or the resolved content of a delta

    def path(self, name: str) -> Path:
        return self.directory / name


def resolved_raw(directory: Path, trail: tuple[Path, ...]) -> RawPack:
    if not (directory / "pack.yaml").is_file():
        raise PackError("not a rule pack: no pack.yaml", file=str(directory))
    meta = read_yaml(directory / "pack.yaml")
    extends = meta.get("extends") if isinstance(meta, dict) else None
    if extends is None:
        texts = {name: _text(directory / name) for name in PACK_FILES}
        return RawPack(directory, meta, read_yaml(directory / "parameters.yaml"),
                       read_yaml(directory / "rules.yaml"), texts)
    where = str(directory / "pack.yaml")
    if not isinstance(extends, str) or not extends:
        raise PackError("extends names a pack id or a folder", file=where, key="extends")
    base_dir = _find_base(directory, extends, where)
    if base_dir.resolve() in trail or base_dir.resolve() == directory.resolve():
        raise PackError(f"extends {extends!r} leads back to this pack", file=where, key="extends")
    base = resolved_raw(base_dir, (*trail, directory.resolve()))
    merged_meta = {key: value for key, value in meta.items() if key != "extends"}
    if "format" not in merged_meta and isinstance(base.meta, dict) and "format" in base.meta:
        merged_meta["format"] = base.meta["format"]
    parameters = _merge_parameters(base.parameters, _optional(directory / "parameters.yaml"),
                                   str(directory / "parameters.yaml"))
    rules = _merge_rules(base.rules, _optional(directory / "rules.yaml"), str(directory / "rules.yaml"))
    files = {"pack.yaml": _dump(merged_meta), "parameters.yaml": _dump(parameters), "rules.yaml": _dump(rules)}
    return RawPack(directory, merged_meta, parameters, rules, files)


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise PackError("file missing", file=str(path))
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackError(f"cannot be read: {exc}", file=str(path)) from None
    except Exception as exc:  # yaml.YAMLError and its many subclasses
        raise PackError(f"is not valid YAML: {exc}", file=str(path)) from None


def _text(path: Path) -> str:
    if not path.is_file():
        raise PackError("file missing", file=str(path))
    return path.read_text(encoding="utf-8")


def _optional(path: Path) -> Any:
    return read_yaml(path) if path.is_file() else None


def _find_base(directory: Path, extends: str, where: str) -> Path:
    candidate = (directory / extends) if ("/" in extends or extends.startswith(".")) else None
    if candidate is not None and (candidate / "pack.yaml").is_file():
        return candidate
    for sibling in sorted(directory.parent.iterdir()):
        if sibling == directory or not (sibling / "pack.yaml").is_file():
            continue
        try:
            sibling_meta = load_yaml((sibling / "pack.yaml").read_text(encoding="utf-8"))
        except Exception:  # an unreadable neighbour is not this pack's base; it reports itself when loaded
            continue
        if isinstance(sibling_meta, dict) and sibling_meta.get("id") == extends:
            return sibling
    raise PackError(f"extends {extends!r}: no pack with that id beside this one, and no such folder",
                    file=where, key="extends")


def _merge_parameters(base: Any, delta: Any, where: str) -> Any:
    if delta is None:
        return base
    if not isinstance(base, dict) or not isinstance(delta, dict):
        raise PackError("parameters are a mapping of names", file=where)
    merged = dict(base)
    for name, entry in delta.items():
        if entry is None:
            if name not in merged:
                raise PackError("removes a parameter the base does not have", file=where, key=str(name))
            del merged[name]
        else:
            merged[name] = entry
    return merged


def _merge_rules(base: Any, delta: Any, where: str) -> Any:
    if delta is None:
        return base
    if not isinstance(base, dict) or not isinstance(delta, dict):
        raise PackError("rules.yaml is a mapping of sections", file=where)
    merged = dict(base)
    for section, value in delta.items():
        if section in _LIST_SECTIONS:
            merged[section] = _merge_by_id(merged.get(section) or [], value, where, str(section))
        elif section in _MAP_SECTIONS and isinstance(value, dict):
            merged[section] = {**(merged.get(section) or {}), **value}
        else:
            merged[section] = value
    return merged


def _merge_by_id(base: list[Any], delta: Any, where: str, section: str) -> list[Any]:
    if not isinstance(delta, list):
        raise PackError("a list of entries with ids", file=where, key=section)
    merged = list(base)
    for index, entry in enumerate(delta):
        if not isinstance(entry, dict) or "id" not in entry:
            raise PackError("each entry names its id", file=where, key=f"{section}[{index}]")
        position = next((i for i, old in enumerate(merged) if isinstance(old, dict) and old.get("id") == entry["id"]),
                        None)
        if entry.get("remove") is True:
            if position is None:
                raise PackError(f"removes {entry['id']!r}, which the base does not have", file=where,
                                key=f"{section}[{index}]")
            del merged[position]
        elif position is None:
            merged.append(entry)
        else:
            merged[position] = entry
    return merged


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _dump(value: Any) -> str:
    """JSON is YAML: the resolved files are written as JSON, amounts as strings (read back exactly)."""
    return json.dumps(_plain(value), ensure_ascii=False, indent=1) + "\n"
