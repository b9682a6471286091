"""What a pack declares about the shape of its policy, resolved: vocabularies with their aliases, causes
with their event fields, base formulas and counting conditions, derived facts, and the facts the engine
sees. Format-1 packs get theirs from ``format1.yaml`` (data, like everything else of the policy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from pydantic import ValidationError

from fangpin.errors import PackError
from fangpin.exactyaml import load_yaml
from fangpin.money import to_fen
from fangpin.packs.conditions import HOUSEHOLD_FIELDS, ConditionParser, FieldKind, Node
from fangpin.packs.formulas import Const, Formula, FormulaParser, ValueType
from fangpin.packs.schema import (
    Cause,
    IntegerParameter,
    LabelsParameter,
    Parameter,
    RateParameter,
    RatioParameter,
    RulesFile,
    RulesFileV1,
)

STATUS_VOCABULARY = "status"  # the vocabulary of the household's own ``status`` field


@dataclass(frozen=True)
class Terms:
    """A resolved vocabulary: its codes in order, their labels, and every spelling that means each."""

    name: str
    label: str | None
    codes: tuple[str, ...]
    labels: dict[str, str]
    spellings: dict[str, str]  # code or alias (as written, trimmed) → code

    def code_of(self, written: str) -> str | None:
        return self.spellings.get(written.strip())


@dataclass(frozen=True)
class DerivedFact:
    id: str
    label: str
    type: ValueType
    formula: Formula


@dataclass(frozen=True)
class Structure:
    vocabularies: dict[str, Terms]
    causes: tuple[Cause, ...]
    counts: dict[str, Node | None]  # per cause: which events count (None: all)
    derived: tuple[DerivedFact, ...]
    fields: dict[str, FieldKind]  # every fact the engine sees
    code_values: dict[str, frozenset[str]]

    @property
    def cause_ids(self) -> tuple[str, ...]:
        return tuple(cause.id for cause in self.causes)

    def cause(self, cause_id: str) -> Cause:
        for cause in self.causes:
            if cause.id == cause_id:
                return cause
        raise KeyError(cause_id)


def _format1() -> dict[str, Any]:
    text = resources.files("fangpin.packs").joinpath("format1.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = load_yaml(text)
    return data


def from_format1(legacy: RulesFileV1, file: str) -> RulesFile:
    """A format-1 rules file as format 2: its sections, with the causes and vocabularies of format1.yaml
    in which ``$bases.NAME`` stands for the parameter the pack's ``bases.NAME`` names."""
    implied = _format1()
    references = legacy.bases.references()
    for key in implied["bases"]:
        if key not in references:
            raise PackError("a format-1 pack's bases name this labels parameter", file=file, key=f"bases.{key}")
    unknown = sorted(set(references) - set(implied["bases"]))
    if unknown:
        raise PackError(f"unknown key (format 1 knows {', '.join(implied['bases'])})", file=file,
                        key=f"bases.{unknown[0]}")
    cites = {cause: citation.model_dump(exclude_none=True) for cause, citation in legacy.bases.cites.items()}

    def substitute(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$bases.cites."):
            cause = value.removeprefix("$bases.cites.")
            if cause not in cites:
                raise PackError(f"format 1 needs a citation for {cause}", file=file, key=f"bases.cites.{cause}")
            return cites[cause]
        if isinstance(value, str) and value.startswith("$bases."):
            return references[value.removeprefix("$bases.")]
        if isinstance(value, dict):
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    data = {
        "vocabularies": substitute(implied["vocabularies"]),
        "causes": substitute(implied["causes"]),
        "groups": [group.model_dump(exclude_none=True) for group in legacy.groups],
        "rules": [rule.model_dump(exclude_none=True) for rule in legacy.rules],
        "benefits": [benefit.model_dump(exclude_none=True) for benefit in legacy.benefits],
        "fee": legacy.fee.model_dump(exclude_none=True),
    }
    try:
        return RulesFile.model_validate(data)
    except ValidationError as exc:  # format1.yaml itself is wrong: a defect of fangpin, named as such
        raise PackError(f"fangpin's format1.yaml does not validate: {exc}", file=file) from None


def build_structure(rules: RulesFile, parameters: Mapping[str, Parameter], money: Mapping[str, Decimal],
                    file: str) -> Structure:
    vocabularies = {name: _terms(name, vocabulary.label, vocabulary.values, vocabulary.values_from, parameters,
                                 f"vocabularies.{name}", file)
                    for name, vocabulary in rules.vocabularies.items()}
    if STATUS_VOCABULARY not in vocabularies:
        raise PackError("the pack declares the household statuses it knows (vocabularies.status)", file=file,
                        key="vocabularies")
    causes = rules.causes
    seen: set[str] = set()
    counts: dict[str, Node | None] = {}
    for index, cause in enumerate(causes):
        path = f"causes[{index}]"
        if cause.id in seen:
            raise PackError(f"the cause {cause.id!r} is declared twice", file=file, key=f"{path}.id")
        seen.add(cause.id)
        counts[cause.id] = _cause_checks(cause, vocabularies, parameters, path, file)
    fields: dict[str, FieldKind] = dict(HOUSEHOLD_FIELDS)
    fields.update({f"{cause.id}_base": "money" for cause in causes})
    value_types: dict[str, ValueType] = {name: ("money" if kind == "money" else "int")
                                         for name, kind in fields.items() if kind in ("money", "int")}

    def parameter(name: str, path: str) -> Const:
        found = parameters.get(name)
        if found is None:
            raise PackError(f"unknown parameter ${name}", file=file, key=path)
        if name in money:
            return Const(to_fen(money[name]), "money")
        if isinstance(found, IntegerParameter):
            return Const(found.value, "int")
        if isinstance(found, RateParameter | RatioParameter):
            return Const(found.value, "ratio")
        raise PackError(f"${name} is a {found.type} parameter, not a value", file=file, key=path)

    derived: list[DerivedFact] = []
    for index, item in enumerate(rules.derived):
        path = f"derived[{index}]"
        if item.id in fields:
            raise PackError(f"{item.id!r} is already a fact", file=file, key=f"{path}.id")
        parser = FormulaParser(file, value_types, parameter, tuple(seen))
        formula = parser.parse(item.value, f"{path}.value")
        if formula.type != item.type:
            raise PackError(f"the formula gives {formula.type}, the fact is declared {item.type}", file=file,
                            key=f"{path}.value")
        derived.append(DerivedFact(item.id, item.label, item.type, formula))
        fields[item.id] = "money" if item.type == "money" else "int"
        value_types[item.id] = "money" if item.type == "money" else "int"
    code_values = {"status": frozenset(vocabularies[STATUS_VOCABULARY].codes)}
    return Structure(vocabularies, causes, counts, tuple(derived), fields, code_values)


def _terms(name: str, label: str | None, values: Any, values_from: tuple[str, ...],
           parameters: Mapping[str, Parameter], path: str, file: str) -> Terms:
    codes: list[str] = []
    labels: dict[str, str] = {}
    spellings: dict[str, str] = {}

    def add(code: str, spelling: str, where: str) -> None:
        spelling = spelling.strip()
        if spellings.get(spelling, code) != code:
            raise PackError(f"{spelling!r} would mean both {spellings[spelling]!r} and {code!r}", file=file, key=where)
        spellings[spelling] = code

    for index, term in enumerate(values):
        if term.code in codes:
            raise PackError(f"the code {term.code!r} appears twice", file=file, key=f"{path}.values[{index}]")
        codes.append(term.code)
        if term.label:
            labels[term.code] = term.label
        add(term.code, term.code, f"{path}.values[{index}]")
        for alias in term.aliases:
            add(term.code, alias, f"{path}.values[{index}].aliases")
    for index, reference in enumerate(values_from):
        found = parameters.get(reference[1:])
        if not isinstance(found, LabelsParameter):
            raise PackError(f"{reference} is not a labels parameter", file=file, key=f"{path}.values_from[{index}]")
        for code in found.value:
            if code not in codes:
                codes.append(code)
                add(code, code, f"{path}.values_from[{index}]")
    return Terms(name, label, tuple(codes), labels, spellings)


def event_kinds(cause: Cause) -> dict[str, FieldKind]:
    as_kind: dict[str, FieldKind] = {"money": "money", "code": "code", "bool": "bool", "text": "code"}
    return {field.name: as_kind[field.type] for field in cause.fields}


def _cause_checks(cause: Cause, vocabularies: Mapping[str, Terms], parameters: Mapping[str, Parameter],
                  path: str, file: str) -> Node | None:
    names = [field.name for field in cause.fields]
    reserved = {"id", "date", "person_id"} & set(names)
    if reserved:
        raise PackError(f"{sorted(reserved)} every event has already", file=file, key=f"{path}.fields")
    if len(set(names)) != len(names):
        raise PackError("a field is declared twice", file=file, key=f"{path}.fields")
    money_fields = {field.name for field in cause.fields if field.type == "money"}
    for index, field in enumerate(cause.fields):
        if field.vocabulary is not None and field.vocabulary not in vocabularies:
            raise PackError(f"unknown vocabulary {field.vocabulary!r}", file=file,
                            key=f"{path}.fields[{index}].vocabulary")
    for part in ("add", "subtract"):
        for name in getattr(cause.base, part):
            if name not in money_fields:
                raise PackError(f"{name!r} is not a money field of the cause", file=file, key=f"{path}.base.{part}")
    if cause.counts_when is None:
        return None
    kinds = {name: kind for name, kind in event_kinds(cause).items() if kind in ("code", "bool")}
    code_values = {field.name: frozenset(vocabularies[field.vocabulary].codes)
                   for field in cause.fields if field.vocabulary is not None}
    code_values.update({field.name: frozenset() for field in cause.fields if field.type == "text"})

    def no_numbers(name: str, kind: FieldKind, where: str) -> int:
        raise PackError(f"${name}: an event condition compares code and bool fields only", file=file, key=where)

    def labels(name: str, where: str) -> tuple[str, ...]:
        found = parameters.get(name)
        if not isinstance(found, LabelsParameter):
            raise PackError(f"${name} is not a labels parameter", file=file, key=where)
        return found.value

    parser = ConditionParser(file, no_numbers, {}, fields=kinds, code_values=code_values, labels=labels)
    return parser.parse(cause.counts_when, f"{path}.counts_when")
