"""Source profiles: how each department's export names and writes its fields, as data (``sources/*.yaml``).

A profile lists its canonical fields in the order of docs/exports.md section 3 (that order decides which defect of
a row is reported), each with its header aliases (the first is canonical), its kind, whether the column is
required, and for code fields the map from the strings seen in exports to canonical values. A county adds
its own aliases or code strings with a YAML file in an extra directory, without code.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fangpin.errors import FangpinError

DEPARTMENTS = ("register", "members", "medical", "education", "traffic", "fire", "disaster")

Kind = Literal["text", "id_number", "amount", "date", "int", "code"]
Blank = Literal["reject", "null", "zero"]
Rule = Literal["burden", "own_loss"]

DEFAULT_REASON: dict[str, str] = {
    "text": "bad_value",
    "id_number": "bad_id_number",
    "amount": "bad_amount",
    "date": "bad_date",
    "int": "bad_value",
    "code": "bad_value",
}
DEFAULT_BLANK: dict[str, Blank] = {
    "text": "null",
    "id_number": "reject",
    "amount": "zero",
    "date": "reject",
    "int": "reject",
    "code": "reject",
}


class ProfileError(FangpinError):
    """A source profile file is malformed (names the file)."""


class Flag(BaseModel):
    """A Boolean column derived from a code field: true when the canonical value is one of ``when``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    when: list[str]


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    headers: list[str] = Field(min_length=1)
    kind: Kind
    required: bool = True
    blank: Blank | None = None
    reason: str | None = None
    values: dict[str, str | bool] = Field(default_factory=dict)
    flag: Flag | None = None
    min: int | None = None

    @property
    def canonical_header(self) -> str:
        return self.headers[0]

    @property
    def reject_reason(self) -> str:
        return self.reason or DEFAULT_REASON[self.kind]

    @property
    def blank_rule(self) -> Blank:
        return self.blank or DEFAULT_BLANK[self.kind]

    @property
    def is_boolean_code(self) -> bool:
        return self.kind == "code" and all(isinstance(value, bool) for value in self.values.values())

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.kind == "code" and not self.values:
            raise ValueError(f"code field {self.name} needs values")
        if self.kind != "code" and (self.values or self.flag):
            raise ValueError(f"only code fields take values or a flag ({self.name})")
        if self.flag and not set(self.flag.when) <= {str(value) for value in self.values.values()}:
            raise ValueError(f"flag of {self.name} names values the field does not map to")
        if self.blank == "zero" and self.kind != "amount":
            raise ValueError(f"only amounts can read a blank as zero ({self.name})")
        return self


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    department: str
    label: str
    identify: list[list[str]] = Field(min_length=1)
    fields: list[FieldSpec] = Field(min_length=1)
    one_of: list[list[str]] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    # An export of events: the pack cause its rows feed (a cause the deciding pack lacks leaves the file's
    # rows skipped as not_in_pack), the field identifying an event, the fields whose values make an event
    # what it is, and values every row has (the disaster kind of the traffic police's export).
    cause: str | None = None
    event_id: str | None = None
    content: list[str] = Field(default_factory=list)
    set: dict[str, str | bool] = Field(default_factory=dict)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        names = [spec.name for spec in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.department}: a field is listed twice")
        if self.cause is not None:
            derived = {"burden"} if "burden" in self.rules else set()
            unknown_content = set(self.content) - set(names) - derived
            if self.event_id not in names or not self.content or unknown_content:
                raise ValueError(f"{self.department}: an event export names its event_id and content fields "
                                 f"among its fields ({sorted(unknown_content)} unknown)")
        for group in [*self.identify, *self.one_of]:
            unknown = set(group) - set(names)
            if unknown or not group:
                raise ValueError(f"{self.department}: identify/one_of names unknown fields {sorted(unknown)}")
        return self


@dataclass(frozen=True)
class HeaderMatch:
    """How one header row maps onto one profile: column index of each present field, what is missing."""

    profile: Profile
    columns: Mapping[str, int]
    missing: tuple[FieldSpec, ...]
    extra: tuple[str, ...]

    @property
    def identified(self) -> bool:
        return any(all(name in self.columns for name in group) for group in self.profile.identify)


def normalise_header(cell: str | None) -> str:
    """Header text compared loosely: NFKC (full-width forms to ASCII), no whitespace or BOM, no ``*`` marks,
    no ``(元)`` unit suffix, case-folded."""
    if not cell:
        return ""
    text = unicodedata.normalize("NFKC", cell)
    text = "".join(ch for ch in text if not ch.isspace() and ch not in "\ufeff\u200b\u200c\u200d\u2060")
    text = text.strip("*")
    if text.endswith("(元)"):
        text = text[: -len("(元)")]
    return text.casefold()


class Profiles:
    """All departments' profiles; matches header rows against them."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self.profiles: tuple[Profile, ...] = tuple(profiles)
        self._by_department = {profile.department: profile for profile in self.profiles}
        self._aliases: dict[str, dict[str, tuple[str, int]]] = {
            profile.department: {
                normalise_header(header): (spec.name, rank)
                for spec in reversed(profile.fields)
                for rank, header in reversed(list(enumerate(spec.headers)))
            }
            for profile in self.profiles
        }

    def __getitem__(self, department: str) -> Profile:
        return self._by_department[department]

    def __iter__(self) -> Iterator[Profile]:
        return iter(self.profiles)

    def __len__(self) -> int:
        return len(self.profiles)

    def match_profile(self, profile: Profile, cells: Sequence[str | None]) -> HeaderMatch:
        aliases = self._aliases[profile.department]
        best: dict[str, tuple[int, int]] = {}  # field -> (alias rank, column)
        extra: list[str] = []
        for column, cell in enumerate(cells):
            hit = aliases.get(normalise_header(cell))
            if hit is None:
                if cell is not None and cell.strip():
                    extra.append(cell.strip())
                continue
            name, rank = hit
            if name in best and best[name] <= (rank, column):
                extra.append((cell or "").strip())
                continue
            if name in best:
                extra.append((cells[best[name][1]] or "").strip())
            best[name] = (rank, column)
        columns = {name: column for name, (_, column) in best.items()}
        return HeaderMatch(profile, columns, _missing(profile, columns), tuple(extra))

    def match(self, cells: Sequence[str | None]) -> HeaderMatch | None:
        """The department this header row clearly belongs to (its identifying fields all present), if any;
        when several qualify, the one with the most matched fields."""
        matches = [self.match_profile(profile, cells) for profile in self.profiles]
        identified = [match for match in matches if match.identified]
        if not identified:
            return None
        return max(identified, key=lambda match: (len(match.columns), -len(match.extra)))


def _missing(profile: Profile, columns: Mapping[str, int]) -> tuple[FieldSpec, ...]:
    grouped = {name for group in profile.one_of for name in group}
    missing = [spec for spec in profile.fields if spec.required and spec.name not in grouped
               and spec.name not in columns]
    for group in profile.one_of:
        if not any(name in columns for name in group):
            missing.extend(profile.field(name) for name in group)
    order = [spec.name for spec in profile.fields]
    return tuple(sorted(missing, key=lambda spec: order.index(spec.name)))


def shipped_sources() -> Path:
    return Path(str(resources.files("fangpin") / "sources"))


def load_profiles(extra_dir: Path | None = None, *, base_dir: Path | None = None) -> Profiles:
    """The shipped profiles (or those in ``base_dir``), with a county's additions from ``extra_dir`` merged in.

    An extra file names a ``department`` and lists ``fields`` by ``name`` with further ``headers`` and/or
    code ``values``; a department not shipped must be a complete profile.
    """
    raw = {data["department"]: data for data in _read_dir(base_dir or shipped_sources())}
    if extra_dir is not None:
        for data in _read_dir(extra_dir):
            department = data["department"]
            raw[department] = _merge(raw[department], data) if department in raw else data
    profiles = []
    for department, data in sorted(raw.items(), key=lambda item: _rank(item[0])):
        try:
            profiles.append(Profile.model_validate(data))
        except ValidationError as error:
            raise ProfileError(f"来源配置(source profile){department} 有误: {error}") from error
    return Profiles(profiles)


def _rank(department: str) -> tuple[int, str]:
    order = DEPARTMENTS.index(department) if department in DEPARTMENTS else len(DEPARTMENTS)
    return order, department


def _read_dir(directory: Path) -> list[dict[str, Any]]:
    if not directory.is_dir():
        raise ProfileError(f"{directory}: 没有这个来源配置文件夹:请检查路径")
    found = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ProfileError(f"{path}: 不是可读取的 YAML: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("department"), str):
            raise ProfileError(f"{path}: 来源配置须写明 department(部门)")
        found.append(data)
    return found


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, "fields": [dict(spec) for spec in base["fields"]]}
    by_name = {spec["name"]: spec for spec in merged["fields"]}
    for addition in extra.get("fields") or []:
        spec = by_name.get(addition.get("name"))
        if spec is None:
            raise ProfileError(f"来源配置(source profile){base['department']}: 没有可扩展的字段 "
                              f"{addition.get('name')!r}:请对照内置配置检查字段名")
        spec["headers"] = [*spec["headers"], *(h for h in addition.get("headers") or [] if h not in spec["headers"])]
        if addition.get("values"):
            spec["values"] = {**(spec.get("values") or {}), **addition["values"]}
    if extra.get("label"):
        merged["label"] = extra["label"]
    return merged
