"""Checks of a drop as a whole, each a one-line message naming the file and field (docs/limits.md, table of
broken drops): the household register is there, the county code given is the households', and the
policy year given is the one the events fall in.

They run after the files are read and before anything is linked or stored: a drop that fails one is not
screened at all. Where the run is still valid (one export's events all fall in another year) the check
adds a warning to the run's summary instead.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from fangpin.errors import FangpinError
from fangpin.intake.errors import UnrecognisedFileError
from fangpin.intake.parse import ParsedExport
from fangpin.intake.profiles import Profiles
from fangpin.labels import FIELDS, label
from fangpin.screening.linking import RegisterSample

REGISTER = "register"


class DropError(FangpinError):
    """The drop cannot be screened as a whole (missing, empty, no register, another county or year)."""


def require_register(drop: Path, parsed: list[ParsedExport], unrecognised: list[UnrecognisedFileError],
                     profiles: Profiles) -> None:
    """Without the household register no household can be decided: name the file that looks most like it
    and what it lacks, or say that none does."""
    if any(item.department == REGISTER for item in parsed):
        return
    profile = profiles[REGISTER]
    best: tuple[int, str, list[str]] | None = None
    for error in unrecognised:
        for row in error.first_rows:
            match = profiles.match_profile(profile, list(row))
            if len(match.columns) >= 2 and (best is None or len(match.columns) > best[0]):
                lacking = [name for group in profile.identify for name in group if name not in match.columns]
                best = (len(match.columns), error.file, list(dict.fromkeys(lacking)))
    if best is not None:
        _, file, lacking = best
        field = lacking[0] if lacking else "household_id"
        fields = "、".join(f"{label(FIELDS, name)}({name},表头写作「{'」或「'.join(profile.field(name).headers)}」)"
                          for name in lacking)
        raise DropError(f"{file},字段 {label(FIELDS, field)}: 看起来是{profile.label},但缺少列 {fields};"
                        "没有防贫对象底册就无法筛查任何农户:请导出包含这些列的底册后重新上传")
    headers = "、".join(profile.field(name).canonical_header for name in ("household_id", "head_id", "members"))
    others = f"(无法识别的文件:{'、'.join(e.file for e in unrecognised)})" if unrecognised else ""
    raise DropError(f"{drop}: 数据包的文件中没有{profile.label}(含 {headers} 等列){others};没有底册就无法筛查"
                    f"任何农户:请上传包含{profile.label}的文件夹")


def check_county(registers: Sequence[RegisterSample], county: str) -> None:
    """The county code given must be the households': at least one household's number or head's ID number
    starts with it. Else the run would store one county's households under another's code. ``registers``:
    the register files in the drop's order, as read (``screening.linking.Reading``)."""
    for item in registers:
        if item.height == 0:
            continue
        columns = list(item.head.columns)
        if not columns:
            continue
        if item.carried:
            return
        prefixes = Counter(
            value[:len(county)] for name in columns
            for value in item.head[name].cast(pl.String).drop_nulls().head(10_000).to_list()
            if value[:len(county)].isdigit() and len(value) >= len(county)
        )
        hint = f";这些号码以 {prefixes.most_common(1)[0][0]} 开头" if prefixes else ""
        raise DropError(f"{item.file},字段 {label(FIELDS, 'household_id')}: 没有任何农户属于县(区)代码 {county}"
                        f"(共 {item.height} 行,户编号和户主身份证号都不以它开头{hint}):请检查县(区)代码(--county)")


_YEAR = re.compile(r"(?:19|20)\d\d")


def check_year(run: dict[str, Any], year: int, rejections: pl.DataFrame, profiles: Profiles) -> list[str]:
    """Events dated outside the policy year are rejected one by one; if every event of the drop is, the year
    given is wrong (an error); if every event of one export is, the summary carries a warning."""
    events = {profile.department for profile in profiles if profile.cause is not None}
    outside = rejections.filter(pl.col("reason") == "outside_policy_year")
    per_file: list[tuple[str, int, int]] = []  # file, events used, events dated in another year
    for item in run["inputs"]:
        if item.get("department") in events:
            per_file.append((item["file"], int(item["used"]), int(item["by_reason"].get("outside_policy_year", 0))))
    used = sum(count for _, count, _ in per_file)
    elsewhere = sum(count for _, _, count in per_file)
    if elsewhere and not used:
        years = Counter(found for value in outside["value"].drop_nulls().head(10_000).to_list()
                        if (found := _first_year(str(value))))
        where = "、".join(file for file, _, count in per_file if count)
        hint = f";它们在 {'、'.join(y for y, _ in years.most_common(3))} 年" if years else ""
        raise DropError(f"{where},字段 {label(FIELDS, 'date')}: 数据包的全部 {elsewhere} 条事件都不在政策年度 "
                        f"{year} 内{hint}:请检查政策年度(--year)")
    return [f"{file},字段 {label(FIELDS, 'date')}: 全部 {count} 条事件都不在政策年度 {year} 内,此文件的事件均未计入"
            for file, used_here, count in per_file if count and not used_here]


def _first_year(text: str) -> str | None:
    found = _YEAR.search(text)
    return found.group(0) if found else None
