"""Use cases, one function each: the CLI and the API call these and nothing else."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fangpin.deciding import decide
from fangpin.decisions import Decision
from fangpin.documents import read_document
from fangpin.errors import NoPackForYear, PackError
from fangpin.facts import Household
from fangpin.packs import Pack, PackLabels, load_pack, pack_for_year
from fangpin.packs.loader import available_packs, shipped_rules_dir


def resolve_pack(year: int, pack_dir: Path | None = None, rules_dir: Path | None = None) -> Pack:
    """The named pack (it must be in force for the year), else the pack in force for the year in ``rules_dir``
    (default: the setting rules_dir, else the shipped packs)."""
    if pack_dir is None:
        return pack_for_year(year, rules_dir)
    if (Path(pack_dir) / "DRAFT.json").is_file():  # services.drafts.DRAFT_MARKER
        raise PackError(f"{pack_dir} 是规则包草案 (a draft pack):只能用于模拟测算(fangpin simulate),不能用于判定或赔付",
                        file="DRAFT.json")
    pack = load_pack(pack_dir)
    if not pack.in_force(year):
        years = "、".join(str(y) for y in pack.meta.years)
        raise NoPackForYear(f"规则包 {pack.id} 适用于 {years} 年度,不适用于 {year} 政策年度:请选择其中一个年度",
                            year=year, covered=pack.meta.years)
    return pack


def pack_years(pack_dir: Path | None = None) -> list[int]:
    """The policy years the packs in force cover, ascending: the named pack's (``--pack``), else those of every
    shipped pack (drafts are never in force). Read again only when a pack's ``pack.yaml`` changed."""
    root = Path(pack_dir) if pack_dir is not None else shipped_rules_dir()
    folders = [root] if (root / "pack.yaml").is_file() else (
        sorted(path for path in root.iterdir() if (path / "pack.yaml").is_file()) if root.is_dir() else [])
    signature = tuple((str(path), (path / "pack.yaml").stat().st_mtime_ns) for path in folders)
    return list(_pack_years(str(root), signature))


@lru_cache(maxsize=16)
def _pack_years(root: str, signature: tuple[tuple[str, int], ...]) -> tuple[int, ...]:
    packs = [load_pack(Path(root))] if (Path(root) / "pack.yaml").is_file() else available_packs(Path(root))
    return tuple(sorted({year for pack in packs if not (pack.directory / "DRAFT.json").is_file()
                         for year in pack.meta.years}))


def default_year(years: list[int], today_year: int) -> int:
    """The year a form offers first: the latest of ``years`` not after this year, else the earliest."""
    earlier = [year for year in years if year <= today_year]
    return max(earlier) if earlier else min(years, default=today_year)


def check_household(household: Household, pack_dir: Path | None = None) -> Decision:
    return decide(household, resolve_pack(household.year, pack_dir))


def check_document(path: Path, pack_dir: Path | None = None) -> Decision:
    return check_household(read_document(path), pack_dir)


def explain_document(path: Path, pack_dir: Path | None = None) -> tuple[Decision, PackLabels]:
    """The decision of a household document and the deciding pack's labels, for an account people read."""
    household = read_document(path)
    pack = resolve_pack(household.year, pack_dir)
    return decide(household, pack), pack.people_labels
