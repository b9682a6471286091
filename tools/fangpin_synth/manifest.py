"""The manifest (what a correct screener must find in a drop), the designed households of the demo drop,
and the integer-fen helpers shared by the generator."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .contract import EXPECTED_DECISIONS_MAX_HOUSEHOLDS

# ----------------------------------------------------------------------------------------------
# Manifest
# ----------------------------------------------------------------------------------------------


@dataclass
class FileManifest:
    """What a correct screener finds in one file (row numbers are 1-based physical rows)."""

    name: str
    department: str
    format: str  # "csv" | "xlsx"
    encoding: str | None  # "gb18030" | "utf-8" | "utf-8-sig"; None for xlsx
    sheet: str | None
    header_row: int
    columns: list[dict[str, str | None]]  # [{"header": ..., "field": canonical or None (extra)}]
    rows_read: int  # every line / sheet row but the header
    rows_used: int
    rows_rejected: int
    rows_skipped: int
    skipped: dict[str, list[int]]  # title / blank / total -> rows
    rejected: dict[str, list[int]]  # reason -> rows
    rejected_rows: list[dict[str, Any]]  # {"row", "reason", "field"[, "also"]}
    corrections: list[dict[str, Any]]  # {"row", "replaces_row", "id"}


@dataclass
class DropManifest:
    generator: str
    version: int
    seed: int
    year: int
    county: str
    households: int
    bad_share: float
    correction_share: float
    messy: bool
    drop: str  # the drop folder's name
    files: list[FileManifest]
    totals: dict[str, Any]
    expected: dict[str, Any]
    designed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["files"] = [{g.name: getattr(f, g.name) for g in dataclasses.fields(f)} for f in self.files]
        return d

    def to_json(self) -> str:
        d = self.to_dict()
        d.pop("seconds", None)  # keep the written manifest deterministic
        # indented when small; compact (C encoder, fast) for big drops
        indent = 1 if self.households <= EXPECTED_DECISIONS_MAX_HOUSEHOLDS else None
        return json.dumps(d, ensure_ascii=False, indent=indent) + "\n"

    def file(self, department: str) -> FileManifest:
        for f in self.files:
            if f.department == department:
                return f
        raise KeyError(department)


# ----------------------------------------------------------------------------------------------
# Designed households (the demo drop)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdSpec:
    """A household with fixed facts; amounts in yuan as strings, read exactly."""

    label: str
    intent: str
    status: str  # the register's text: 脱贫户, 一般农户, 边缘户, 未脱贫户, ...
    members: int
    income: str | None = None  # household total
    per_capita: str | None = None  # or this
    labour: bool = True  # any member able to work
    housing_secure: bool = True
    illness: tuple[str, ...] = ()  # personal burdens, one settlement each
    schooling: tuple[tuple[str, str, str, str, str], ...] = ()  # stage, 全日制/非全日制, tuition, accom, books
    disaster: tuple[tuple[str, str, str], ...] = ()  # traffic|fire|disaster, loss, compensation


DEMO_SPECS: tuple[HouseholdSpec, ...] = (
    HouseholdSpec("illness_edge", "edge, illness 30000+15000 -> excess 25000 -> 13000.00 (SPEC ex. 1)",
                  "一般农户", 4, income="17600.00", illness=("30000.00", "15000.00")),
    HouseholdSpec("illness_exit", "unstable_exit, illness 12345.67 -> 3672.84 (SPEC ex. 2)",
                  "脱贫户", 3, income="13500.00", illness=("12345.67",)),
    HouseholdSpec("schooling_exit", "unstable_exit, senior high 8300 + compulsory 1200 -> 150.00 (SPEC ex. 4)",
                  "脱贫户", 4, per_capita="4500.00",
                  schooling=(("普通高中", "全日制", "6000", "1500", "800"), ("初中", "全日制", "0", "1000", "200"))),
    HouseholdSpec("schooling_edge", "edge, 本科 12000+6500 (and a 非全日制 row) -> excess 10500 -> 5300.00",
                  "边缘户", 4, per_capita="4000.00",
                  schooling=(("本科", "全日制", "9000", "1200", "1800"), ("高职", "全日制", "5000", "1000", "500"),
                             ("大专", "非全日制", "3000", "0", "400"))),
    HouseholdSpec("disaster_edge", "edge, fire own loss 36000 -> 13000.00 (SPEC ex. 5)",
                  "非贫困户", 3, per_capita="4000.00", disaster=(("fire", "36000", "0"),)),
    HouseholdSpec("disaster_exit", "unstable_exit, flood 30000-5000 + traffic 8000-10000 (own 0) -> 7500.00",
                  "脱贫户", 3, per_capita="3800.00",
                  disaster=(("disaster", "30000", "5000"), ("traffic", "8000", "10000"))),
    HouseholdSpec("refer_dibao", "edge, no labour, housing secure, illness 60000 -> refer_dibao (SPEC ex. 6)",
                  "一般农户", 2, per_capita="4000.00", labour=False, housing_secure=True, illness=("60000.00",)),
    HouseholdSpec("exactly_4800", "never registered, income 9600 / 2 = 4800.00 -> not_covered (SPEC ex. 3)",
                  "一般农户", 2, income="9600.00", illness=("50000.00",)),
    HouseholdSpec("registered_poor", "registered poor, 2900 per capita, illness 80000 -> not_covered (SPEC ex. 7)",
                  "未脱贫户", 3, per_capita="2900.00", illness=("80000.00",)),
    HouseholdSpec("just_below", "edge, 14399.97 / 3 = 4799.99, illness 25000 -> 2500.00",
                  "边缘户", 3, income="14399.97", illness=("25000.00",)),
    HouseholdSpec("rounds_to_4800", "edge, 14399.99 / 3 = 4799.9967 -> 4800.00 -> not_covered",
                  "边缘户", 3, income="14399.99", illness=("40000.00",)),
    HouseholdSpec("illness_cap", "edge, illness 400000 -> capped 100000.00, fee 15000.00 (SPEC ex. 9)",
                  "一般农户", 4, per_capita="4000.00", illness=("150000.00", "250000.00")),
    HouseholdSpec("below_deductible", "unstable_exit, illness 3000 -> below_deductible",
                  "脱贫户", 2, per_capita="4600.00", illness=("3000.00",)),
    HouseholdSpec("no_labour_unsafe_housing", "unstable_exit, no labour, housing not secure, illness 15000 -> 5000.00",
                  "脱贫户", 2, per_capita="3500.00", labour=False, housing_secure=False, illness=("15000.00",)),
    HouseholdSpec("three_causes",
                  "unstable_exit, illness 9000 + schooling 9000 + disaster 12000 -> 3500.00, fee 525.00",
                  "脱贫户", 4, per_capita="4200.00", illness=("9000.00",),
                  schooling=(("中职", "全日制", "2000", "800", "200"),
                             ("中等职业教育", "全日制", "5000", "800", "200")),
                  disaster=(("disaster", "12000", "0"),)),
)


def _yuan_to_fen(s: str) -> int:
    whole, _, frac = s.partition(".")
    frac = (frac + "00")[:2]
    return int(whole) * 100 + int(frac)


def _fen_str(f: int) -> str:
    sign = "-" if f < 0 else ""
    f = abs(int(f))
    return f"{sign}{f // 100}.{f % 100:02d}"


def _half_up_div(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """round_half_up(num / den) for non-negative integers."""
    return (2 * num + den) // (2 * den)


