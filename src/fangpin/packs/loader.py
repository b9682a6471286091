"""Load a pack folder, validate it, resolve its parameters, compile its conditions, and hash its content.

Format 1 (fangpin 0.1) and format 2 packs load alike; a format-1 pack's hash is computed exactly as 0.1 did,
so every decision stored under it still names a pack that loads and replays (docs/packs.md, "Formats").

Length: over 300 lines because the ``Pack`` it returns is the engine's one view of a policy (parameters,
money, labels, groups, causes) and loading, resolving and hashing must agree on one reading of the files;
split, each half would re-read them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from fangpin.errors import NoPackForYear, PackError
from fangpin.labels import OUTCOMES, label
from fangpin.money import FEN, to_fen
from fangpin.packs.conditions import (
    ConditionParser,
    FieldKind,
    Node,
    collect_thresholds,
    guarded,
)
from fangpin.packs.resolve import RawPack, read_yaml, resolved_raw
from fangpin.packs.schema import (
    Benefit,
    Cause,
    Group,
    LabelsParameter,
    MoneyParameter,
    PackMeta,
    Parameter,
    ProductParameter,
    RateParameter,
    RatioParameter,
    Rule,
    RulesFile,
    RulesFileV1,
    ScheduleParameter,
)
from fangpin.packs.structure import Structure, build_structure, from_format1

M = TypeVar("M", bound=BaseModel)
LABELS_FILE = "labels.yaml"
_PARAMETERS = TypeAdapter(dict[str, Parameter])


@dataclass(frozen=True)
class CompiledRule:
    """One engine rule: where it comes from, what it does when it fires, what it cites."""

    id: str
    kind: str  # group | rule | benefit
    source: Group | Rule | Benefit
    condition: Node


@dataclass(frozen=True)
class PackLabels:
    """A pack's labels for people: ``groups`` and ``causes`` by id, ``terms`` by vocabulary then code,
    ``derived`` facts by id, and ``rules`` and ``parameters`` by id, named as docs/packs.md ("Labels: what
    people read") says."""

    groups: dict[str, str]
    causes: dict[str, str]
    terms: dict[str, dict[str, str]]
    derived: dict[str, str]
    rules: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    def named_parameters(self) -> dict[str, str]:
        """The parameters that have a label (not only their id): what may override another pack's labels."""
        return {name: label for name, label in self.parameters.items() if label != name}


@dataclass(frozen=True)
class Pack:
    meta: PackMeta
    directory: Path
    hash: str
    parameters: dict[str, Parameter]
    money: dict[str, Decimal]
    rules_file: RulesFile
    compiled: tuple[CompiledRule, ...]
    thresholds: dict[str, tuple[int, ...]]
    ruleset: dict[str, dict[str, Any]] = field(repr=False)
    structure: Structure = field(repr=False)
    files: dict[str, str] = field(repr=False)  # what is stored with its decisions (resolved, if a delta)
    # labels.yaml: what people read of the parameters, beside the pack and outside its identity (not hashed)
    sidecar: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    @property
    def ruleset_name(self) -> str:
        return f"{self.meta.id}@{self.hash[:16]}"

    def rule(self, rule_id: str) -> CompiledRule:
        for rule in self.compiled:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def parameter(self, ref: str) -> Parameter:
        return self.parameters[ref.removeprefix("$")]

    def schedule(self, ref: str) -> ScheduleParameter:
        value = self.parameter(ref)
        assert isinstance(value, ScheduleParameter)
        return value

    def rate(self, ref: str) -> Decimal:
        value = self.parameter(ref)
        assert isinstance(value, RateParameter | RatioParameter)
        return value.value

    def labels(self, ref: str) -> tuple[str, ...]:
        value = self.parameter(ref)
        assert isinstance(value, LabelsParameter)
        return value.value

    def amount(self, ref: str) -> Decimal:
        return self.money[ref.removeprefix("$")]

    def integer(self, ref: str) -> int:
        value = self.parameter(ref)
        assert value.type == "integer"
        return value.value

    @property
    def people_labels(self) -> PackLabels:
        """The Chinese labels of what this pack defines (groups, causes, vocabulary codes, derived facts),
        for pages, workbooks and explanations: labels are pack data, never a table in code."""
        return PackLabels(
            groups={group.id: group.label for group in self.rules_file.groups},
            causes={cause.id: cause.label for cause in self.structure.causes},
            terms={name: dict(terms.labels) for name, terms in self.structure.vocabularies.items()},
            derived={fact.id: fact.label for fact in self.structure.derived},
            rules=self.rule_names(),
            parameters={name: parameter.label or self.sidecar.get(name) or name
                        for name, parameter in self.parameters.items()},
        )

    def rule_names(self) -> dict[str, str]:
        """Each rule's name for people, made of the pack's own Chinese (a rule's ``description`` is for
        engineers): a group rule by its group's label, a benefit by its cause and group (因病·非贫低收入户(边缘户)),
        an outcome rule by the outcome and the clause it cites, a note rule by its note."""
        causes = {cause.id: cause.label for cause in self.structure.causes}
        groups = {group.id: group.label for group in self.rules_file.groups}
        named: dict[str, str] = {}
        for rule in self.compiled:
            source = rule.source
            if isinstance(source, Group):
                named[rule.id] = source.label
            elif isinstance(source, Benefit):
                named[rule.id] = f"{causes.get(source.cause, source.cause)}·{groups.get(source.group, source.group)}"
            elif source.then.outcome is not None:
                named[rule.id] = f"{label(OUTCOMES, source.then.outcome)}(依据 {source.cites.clause})"
            else:
                named[rule.id] = source.then.note or source.cites.clause
        return named

    def group(self, group_id: str) -> Group:
        for group in self.rules_file.groups:
            if group.id == group_id:
                return group
        raise KeyError(group_id)

    @property
    def causes(self) -> tuple[Cause, ...]:
        return self.structure.causes

    @property
    def cause_ids(self) -> tuple[str, ...]:
        """The pack's causes in its order: the order of every per-cause column and list."""
        return self.structure.cause_ids

    @property
    def fields(self) -> dict[str, FieldKind]:
        """Every fact the engine sees under this pack, with its kind."""
        return self.structure.fields

    def benefit(self, cause: str, group_id: str) -> Benefit | None:
        for benefit in self.rules_file.benefits:
            if benefit.cause == cause and benefit.group == group_id:
                return benefit
        return None

    def in_force(self, year: int) -> bool:
        return year in self.meta.years


def no_pack_message(year: int, covered: tuple[int, ...]) -> str:
    """"没有在 2025 政策年度生效的规则包…": what a person reads, naming the years that can be chosen."""
    if not covered:
        return f"没有在 {year} 政策年度生效的规则包,也没有任何可用的规则包:请联系系统管理员"
    years = "、".join(str(y) for y in covered)
    return f"没有在 {year} 政策年度生效的规则包:现有规则包适用于 {years} 年度,请选择其中一个年度"


def load_pack(directory: Path | str) -> Pack:
    """Read a pack folder (resolving the pack it extends), validate it, and compile it."""
    directory = Path(directory)
    raw = resolved_raw(directory, ())
    return _build(directory, raw)


def _build(directory: Path, raw: RawPack) -> Pack:
    meta = _validate(PackMeta, raw.meta, raw.path("pack.yaml"))
    try:
        parameters = _PARAMETERS.validate_python(raw.parameters)
    except ValidationError as exc:
        raise _pack_error(exc, raw.path("parameters.yaml")) from None
    money = _resolve_money(parameters, str(raw.path("parameters.yaml")))
    rules_path = raw.path("rules.yaml")
    if (meta.format or 1) == 1:
        legacy = _validate(RulesFileV1, raw.rules, rules_path)
        canonical = _canonical({"pack": meta, "parameters": parameters, "rules": legacy})
        rules_file = from_format1(legacy, str(rules_path))
    else:
        rules_file = _validate(RulesFile, raw.rules, rules_path)
        canonical = _canonical({"pack": meta, "parameters": parameters, "rules": rules_file})
    structure = build_structure(rules_file, parameters, money, str(rules_path))
    compiled = _compile(rules_file, parameters, money, structure, str(rules_path))
    ruleset = {rule.id: {"all": [{"m": guarded(rule.condition)}]} for rule in compiled}
    return Pack(
        meta=meta,
        directory=directory,
        hash=hashlib.sha256(canonical.encode()).hexdigest(),
        parameters=parameters,
        money=money,
        rules_file=rules_file,
        compiled=compiled,
        thresholds=collect_thresholds([rule.condition for rule in compiled], structure.fields),
        ruleset=ruleset,
        structure=structure,
        files=raw.files,
        sidecar=_sidecar(directory, meta.id),
    )


def _extended(directory: Path) -> str | None:
    """The pack id a folder's own pack.yaml extends (resolution drops the key from the merged meta)."""
    own = read_yaml(directory / "pack.yaml")
    extends = own.get("extends") if isinstance(own, dict) else None
    return Path(extends).name if isinstance(extends, str) and extends else None


def _sidecar(directory: Path, pack_id: str) -> dict[str, str]:
    """The parameters' labels of ``labels.yaml`` (docs/packs.md, "Labels"): the pack folder's own, else (a
    pack rebuilt from the files stored with its decisions) the shipped pack's of the same id, else (a draft)
    the shipped pack's it extends; {} if none."""
    shipped = shipped_rules_dir()
    folders = [directory, shipped / pack_id]
    if not any((folder / LABELS_FILE).is_file() for folder in folders):
        extends = _extended(directory)
        folders += [shipped / extends] if extends else []
    for folder in folders:
        path = folder / LABELS_FILE
        if path.is_file():
            data = read_yaml(path)
            labels = data.get("parameters") if isinstance(data, dict) else None
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                raise PackError("parameters: a mapping of parameter id to its label for people", file=str(path))
            return {str(key): value for key, value in labels.items()}
    return {}


def shipped_rules_dir() -> Path:
    """The packs shipped with fangpin: a folder named by FANGPIN_RULES_DIR, else the installed copy,
    else the repository's rules/ folder (an editable install)."""
    from fangpin.config import get_settings

    configured = get_settings().rules_dir
    if configured is not None:
        return configured
    spec = find_spec("fangpin.shipped_rules")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if Path(location).is_dir():
                return Path(location)
    return Path(__file__).resolve().parents[3] / "rules"


def available_packs(rules_dir: Path | None = None) -> list[Pack]:
    root = rules_dir or shipped_rules_dir()
    if not root.is_dir():
        raise PackError("the rules folder does not exist", file=str(root))
    return [load_pack(path) for path in sorted(root.iterdir()) if (path / "pack.yaml").is_file()]


def _may_be_in_force(folder: Path, year: int) -> bool:
    """Whether a pack folder's own pack.yaml lists the year, or cannot be read without loading the pack:
    reading one small file instead of compiling every shipped pack saves each run a good half second."""
    from fangpin.exactyaml import load_yaml

    try:
        meta = load_yaml((folder / "pack.yaml").read_text(encoding="utf-8"))
    except Exception:  # the full load says what is wrong
        return True
    years = meta.get("years") if isinstance(meta, dict) else None
    return not isinstance(years, list) or year in years


def pack_for_year(year: int, rules_dir: Path | None = None) -> Pack:
    root = rules_dir or shipped_rules_dir()
    if not root.is_dir():
        raise PackError("the rules folder does not exist", file=str(root))
    folders = [path for path in sorted(root.iterdir()) if (path / "pack.yaml").is_file()]
    candidates = [pack for pack in (load_pack(path) for path in folders if _may_be_in_force(path, year))
                  if pack.in_force(year)]
    if not candidates:  # the years the packs cover, for the message: only now is every pack loaded
        covered = tuple(sorted({y for pack in map(load_pack, folders) for y in pack.meta.years}))
        raise NoPackForYear(no_pack_message(year, covered), year=year, covered=covered,
                            hint=f"或用 --pack 指定一个规则包(规则包目录 {root})")
    if len(candidates) > 1:
        names = "、".join(pack.id for pack in candidates)
        raise PackError(f"{year} 政策年度有多个规则包生效({names}):请用 --pack 指定其中一个")
    return candidates[0]


def _validate(model: type[M], data: Any, path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _pack_error(exc, path) from None


def _pack_error(exc: ValidationError, path: Path) -> PackError:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"] if not str(part).endswith("Parameter"))
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return PackError(f"{first['msg']}{more}", file=str(path), key=key or None)


def _resolve_money(parameters: dict[str, Parameter], file: str) -> dict[str, Decimal]:
    money: dict[str, Decimal] = {}

    def value_of(name: str, trail: tuple[str, ...]) -> Decimal:
        if name in trail:
            raise PackError(f"parameter refers to itself through {' → '.join(trail)}", file=file, key=name)
        parameter = parameters.get(name)
        if parameter is None:
            raise PackError("unknown parameter", file=file, key=f"{trail[-1]}.of: {name}" if trail else name)
        if isinstance(parameter, MoneyParameter | RatioParameter | RateParameter):
            return parameter.value
        if isinstance(parameter, ProductParameter):
            product = Decimal(1)
            for factor in parameter.of:
                product *= value_of(factor, (*trail, name))
            return product
        raise PackError(f"a {parameter.type} parameter cannot be a factor", file=file, key=name)

    for name, parameter in parameters.items():
        if isinstance(parameter, MoneyParameter):
            money[name] = parameter.value
        elif isinstance(parameter, ProductParameter):
            value = value_of(name, ())
            if value != value.quantize(FEN):
                raise PackError(f"the product {value} is not a whole number of fen", file=file, key=name)
            money[name] = value.quantize(FEN)
    return money


def _compile(
    rules_file: RulesFile, parameters: dict[str, Parameter], money: dict[str, Decimal], structure: Structure,
    file: str,
) -> tuple[CompiledRule, ...]:
    def lookup(name: str, kind: FieldKind, path: str) -> int:
        parameter = parameters.get(name)
        if parameter is None:
            raise PackError(f"unknown parameter ${name}", file=file, key=path)
        if kind == "money" and name in money:
            return to_fen(money[name])
        if kind == "int" and parameter.type == "integer":
            return int(parameter.value)
        raise PackError(f"${name} is a {parameter.type} parameter, not usable for a {kind} field", file=file,
                        key=path)

    def expect(ref: str, kind: type[Any], path: str) -> None:
        parameter = parameters.get(ref[1:])
        if parameter is None:
            raise PackError(f"unknown parameter {ref}", file=file, key=path)
        if kind is MoneyParameter and ref[1:] in money:
            return
        if not isinstance(parameter, kind):
            raise PackError(f"{ref} is a {parameter.type} parameter", file=file, key=path)

    ids: set[str] = set()

    def unique(rule_id: str, path: str) -> str:
        if rule_id in ids:
            raise PackError(f"the id {rule_id!r} is used twice", file=file, key=path)
        ids.add(rule_id)
        return rule_id

    group_nodes: dict[str, Node] = {}
    compiled: list[CompiledRule] = []
    plain = ConditionParser(file, lookup, {}, fields=structure.fields, code_values=structure.code_values)
    for index, group in enumerate(rules_file.groups):
        node = plain.parse(group.when, f"groups[{index}].when")
        group_nodes[group.id] = node
        compiled.append(CompiledRule(unique(group.id, f"groups[{index}].id"), "group", group, node))
    parser = ConditionParser(file, lookup, group_nodes, fields=structure.fields, code_values=structure.code_values)
    outcome_conditions: list[dict[str, Any]] = []
    for index, rule in enumerate(rules_file.rules):
        node = parser.parse(rule.when, f"rules[{index}].when")
        compiled.append(CompiledRule(unique(rule.id, f"rules[{index}].id"), "rule", rule, node))
        if rule.then.outcome is not None:
            outcome_conditions.append(rule.when)
    seen_terms: set[tuple[str, str]] = set()
    for index, benefit in enumerate(rules_file.benefits):
        path = f"benefits[{index}]"
        if benefit.cause not in structure.cause_ids:
            raise PackError(f"unknown cause {benefit.cause!r} (the pack's: {', '.join(structure.cause_ids)})",
                            file=file, key=f"{path}.cause")
        if benefit.group not in group_nodes:
            raise PackError(f"unknown group {benefit.group!r}", file=file, key=f"{path}.group")
        if (benefit.cause, benefit.group) in seen_terms:
            raise PackError(f"{benefit.cause} has two benefits for {benefit.group}", file=file, key=path)
        seen_terms.add((benefit.cause, benefit.group))
        expect(benefit.deductible, MoneyParameter, f"{path}.deductible")
        expect(benefit.cap, MoneyParameter, f"{path}.cap")
        expect(benefit.tiers, ScheduleParameter, f"{path}.tiers")
        # An outcome rule (not covered, referred to dibao) ends the decision before any cause (docs/policy.md 2).
        when: dict[str, Any] = {
            "all": [
                {"group": benefit.group},
                {f"{benefit.cause}_base": {"gt": benefit.deductible}},
                *({"not": condition} for condition in outcome_conditions),
            ]
        }
        node = parser.parse(when, f"{path}.deductible")
        compiled.append(CompiledRule(unique(benefit.id, f"{path}.id"), "benefit", benefit, node))
    expect(rules_file.fee.rate, RateParameter, "fee.rate")
    return tuple(compiled)


def _canonical(content: dict[str, Any]) -> str:
    """The pack's identity: its validated content, not its formatting (YAML layout, quoting, comments)."""

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return plain(value.model_dump(mode="python", exclude_none=True))
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        return value

    return json.dumps(plain(content), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
