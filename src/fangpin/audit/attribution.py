"""Which parameters and rules of two packs account for a difference in a decision."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fangpin.packs import Pack
from fangpin.packs.schema import Benefit, Group, ProductParameter, Rule


def _refs(node: Any) -> set[str]:
    """Every $parameter a YAML condition mentions."""
    if isinstance(node, str):
        return {node[1:]} if node.startswith("$") else set()
    if isinstance(node, dict):
        return set().union(*(_refs(value) for value in node.values())) if node else set()
    if isinstance(node, list | tuple):
        return set().union(*(_refs(value) for value in node)) if node else set()
    return set()


def rule_parameters(pack: Pack, rule_id: str) -> set[str]:
    """The parameters a rule depends on, products expanded into their factors."""
    source = pack.rule(rule_id).source
    names: set[str] = set()
    if isinstance(source, Group | Rule):
        names |= _refs(source.when)
    if isinstance(source, Benefit):
        names |= {source.deductible[1:], source.tiers[1:], source.cap[1:]}
        names |= _refs(pack.group(source.group).when)
        names |= set().union(*(_refs(rule.when) for rule in pack.rules_file.rules if rule.then.outcome), set())
    expanded = set(names)
    while True:
        more = {factor for name in expanded if isinstance(pack.parameters.get(name), ProductParameter)
                for factor in pack.parameters[name].of} - expanded  # type: ignore[union-attr]
        if not more:
            return expanded
        expanded |= more


def _dump(value: Any) -> str:
    return json.dumps(value.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def changed_parameters(before: Pack, after: Pack) -> dict[str, tuple[str | None, str | None]]:
    changes = {}
    for name in sorted(set(before.parameters) | set(after.parameters)):
        old, new = before.parameters.get(name), after.parameters.get(name)
        # a product's definition may stay while its value moves with a factor (income_ceiling with poverty_line)
        if old is None or new is None or _dump(old) != _dump(new) or before.money.get(name) != after.money.get(name):
            changes[name] = (_describe(before, name), _describe(after, name))
    return changes


def _describe(pack: Pack, name: str) -> str | None:
    parameter = pack.parameters.get(name)
    if parameter is None:
        return None
    if name in pack.money:
        return f"{pack.money[name]}"
    if parameter.type == "schedule":
        return "; ".join(f"≤{tier.up_to or '∞'}: {tier.rate}" for tier in parameter.tiers)
    return str(getattr(parameter, "value", ""))


def changed_rules(before: Pack, after: Pack) -> set[str]:
    def index(pack: Pack) -> dict[str, str]:
        return {rule.id: _dump(rule.source) for rule in pack.compiled}

    old, new = index(before), index(after)
    return {rule_id for rule_id in set(old) | set(new) if old.get(rule_id) != new.get(rule_id)}


def account_for(
    before: Pack, after: Pack, fired_before: Iterable[str], fired_after: Iterable[str], fee_changed: bool
) -> tuple[list[str], list[str]]:
    """(parameters, rules) that explain one household's difference."""
    fired_before, fired_after = set(fired_before), set(fired_after)
    parameters = changed_parameters(before, after)
    rules = changed_rules(before, after)
    involved = (fired_before ^ fired_after) | ((fired_before | fired_after) & rules)
    names: set[str] = set()
    for rule_id in involved:
        for pack in (before, after):
            if any(rule.id == rule_id for rule in pack.compiled):
                names |= rule_parameters(pack, rule_id)
    for rule_id in fired_before & fired_after:
        for pack in (before, after):
            if isinstance(pack.rule(rule_id).source, Benefit):
                names |= rule_parameters(pack, rule_id)
    if fee_changed:
        names |= {before.rules_file.fee.rate[1:], after.rules_file.fee.rate[1:]}
    return sorted(name for name in names if name in parameters), sorted(involved)
