"""Use cases, one function each: the CLI and the API call these and nothing else."""

from __future__ import annotations

from pathlib import Path

from fangpin.deciding import decide
from fangpin.decisions import Decision
from fangpin.documents import read_document
from fangpin.errors import NoPackForYear
from fangpin.facts import Household
from fangpin.packs import Pack, PackLabels, load_pack, pack_for_year


def resolve_pack(year: int, pack_dir: Path | None = None) -> Pack:
    """The named pack (it must be in force for the year), else the shipped pack in force for the year."""
    if pack_dir is None:
        return pack_for_year(year)
    pack = load_pack(pack_dir)
    if not pack.in_force(year):
        years = ", ".join(str(y) for y in pack.meta.years)
        raise NoPackForYear(f"pack {pack.id} is in force for {years}, not for policy year {year}")
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
