"""Rule packs: declarative policy (parameters, groups, rules, benefits), validated, hashed and compiled."""

from fangpin.packs.loader import (
    Pack,
    PackLabels,
    available_packs,
    load_pack,
    pack_for_year,
    shipped_rules_dir,
)

__all__ = ["Pack", "PackLabels", "available_packs", "load_pack", "pack_for_year", "shipped_rules_dir"]
