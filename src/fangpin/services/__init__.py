"""Use cases, one function each: the CLI and the API call these and nothing else."""

from __future__ import annotations

from pathlib import Path

from fangpin.deciding import decide
from fangpin.decisions import Decision
from fangpin.documents import read_document
from fangpin.errors import NoPackForYear, PackError
from fangpin.facts import Household
from fangpin.packs import Pack, PackLabels, load_pack, pack_for_year


def resolve_pack(year: int, pack_dir: Path | None = None) -> Pack:
    """The named pack (it must be in force for the year), else the shipped pack in force for the year."""
    if pack_dir is None:
        return pack_for_year(year)
    if (Path(pack_dir) / "DRAFT.json").is_file():  # services.drafts.DRAFT_MARKER
        raise PackError(f"{pack_dir} 是规则包草案 (a draft pack):只能用于模拟测算(fangpin simulate),不能用于判定或赔付",
                        file="DRAFT.json")
    pack = load_pack(pack_dir)
    if not pack.in_force(year):
        years = "、".join(str(y) for y in pack.meta.years)
        raise NoPackForYear(f"规则包 {pack.id} 适用于 {years} 年度,不适用于 {year} 政策年度:请选择其中一个年度",
                            year=year, covered=pack.meta.years)
    return pack


def check_household(household: Household, pack_dir: Path | None = None) -> Decision:
    return decide(household, resolve_pack(household.year, pack_dir))


def check_document(path: Path, pack_dir: Path | None = None) -> Decision:
    return check_household(read_document(path), pack_dir)


def explain_document(path: Path, pack_dir: Path | None = None) -> tuple[Decision, PackLabels]:
    """The decision of a household document and the deciding pack's labels, for an account people read."""
    household = read_document(path)
    pack = resolve_pack(household.year, pack_dir)
    return decide(household, pack), pack.people_labels
