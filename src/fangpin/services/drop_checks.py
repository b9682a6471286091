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
from pathlib import Path
from typing import Any

import polars as pl

from fangpin.errors import FangpinError
from fangpin.intake.errors import UnrecognisedFileError
from fangpin.intake.parse import ParsedExport
from fangpin.intake.profiles import Profiles

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
        fields = ", ".join(f"{name} (header {' or '.join(profile.field(name).headers)})" for name in lacking)
        raise DropError(f"{file}, field {lacking[0] if lacking else 'household_id'}: looks like the household "
                        f"register ({profile.label}) but lacks the column(s) {fields}; without the register "
                        "no household can be screened")
    headers = "、".join(profile.field(name).canonical_header for name in ("household_id", "head_id", "members"))
    others = f" (not recognised: {', '.join(e.file for e in unrecognised)})" if unrecognised else ""
    raise DropError(f"{drop}: no household register ({profile.label}, with the columns {headers}) among the "
                    f"drop's files{others}; without it no household can be screened")


def check_county(parsed: list[ParsedExport], county: str) -> None:
    """The county code given must be the households': at least one household's number or head's ID number
    starts with it. Else the run would store one county's households under another's code."""
    for item in parsed:
        if item.department != REGISTER or item.rows.height == 0:
            continue
        columns = [name for name in ("household_id", "head_id") if name in item.rows.columns]
        if not columns:
            continue
        carried = pl.any_horizontal(pl.col(name).cast(pl.String).str.starts_with(county).fill_null(False)
                                    for name in columns)
        if item.rows.select(carried.any()).item():
            return
        prefixes = Counter(
            value[:len(county)] for name in columns
            for value in item.rows[name].cast(pl.String).drop_nulls().head(10_000).to_list()
            if value[:len(county)].isdigit() and len(value) >= len(county)
        )
        hint = f"; they start with {prefixes.most_common(1)[0][0]}" if prefixes else ""
        raise DropError(f"{item.file}, field household_id: no household carries the county code {county} "
                        f"(no household number or head's ID number of its {item.rows.height} rows starts "
                        f"with it{hint}): check --county")


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
        where = ", ".join(file for file, _, count in per_file if count)
        hint = f"; they fall in {', '.join(y for y, _ in years.most_common(3))}" if years else ""
        raise DropError(f"{where}, field date: every one of the drop's {elsewhere} events is dated outside the "
                        f"policy year {year}{hint}: check --year")
    return [f"{file}, field date: all {count} events are dated outside the policy year {year}"
            for file, used_here, count in per_file if count and not used_here]


def _first_year(text: str) -> str | None:
    found = _YEAR.search(text)
    return found.group(0) if found else None
