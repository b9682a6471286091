"""Collects every rule pack's worked examples (rules/*/cases/*.yaml) as test items.

A case gives a household and the decision expected for it (only the keys it names are compared), or
``steps``: several checks of one household in one year, each with its own expectation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fangpin.deciding import decide
from fangpin.documents import household_from
from fangpin.exactyaml import load_yaml
from fangpin.packs import load_pack


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and file_path.parent.name == "cases" and (file_path.parent.parent /
                                                                            "pack.yaml").is_file():
        return PackCaseFile.from_parent(parent, path=file_path)
    return None


class PackCaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        case = load_yaml(self.path.read_text(encoding="utf-8"))
        yield PackCase.from_parent(self, name=case["name"], case=case)


class PackCase(pytest.Item):
    def __init__(self, *, case: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        pack = load_pack(self.path.parent.parent)
        steps = self.case.get("steps") or [self.case]
        for number, step in enumerate(steps, 1):
            decision = decide(household_from(step["household"], source=str(self.path)), pack)
            mismatches = list(_compare(step["expect"], decision.to_json_dict()))
            if mismatches:
                raise CaseMismatch(f"step {number}: " + "; ".join(mismatches))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseMismatch):
            return f"{self.case['name']}\n  {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"case: {self.name}"


class CaseMismatch(Exception):
    pass


def _compare(expected: dict[str, Any], actual: dict[str, Any]) -> Iterator[str]:
    for key, want in expected.items():
        if key == "causes":
            by_cause = {item["cause"]: item for item in actual["causes"]}
            for cause, fields in want.items():
                for field, value in fields.items():
                    got = by_cause[cause][field]
                    if str(got) != str(value) if not isinstance(value, bool) else got is not value:
                        yield f"{cause}.{field}: expected {value}, got {got}"
        elif key == "derived":
            by_id = {item["id"]: item["value"] for item in actual.get("derived", [])}
            for name, value in want.items():
                if by_id.get(name) != str(value):
                    yield f"derived.{name}: expected {value}, got {by_id.get(name)}"
        elif key == "rules":
            got = [rule["id"] for rule in actual["rules"]]
            if got != want:
                yield f"rules: expected {want}, got {got}"
        elif actual.get(key) != (str(want) if want is not None and not isinstance(want, int | bool) else want):
            yield f"{key}: expected {want}, got {actual.get(key)}"
