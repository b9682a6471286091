"""Each shipped pack compiles to exactly the checked-in durable_rules ruleset (tests/golden/*.ruleset.json).

A failure shows what a pack or compiler change did to the rules the engine runs; if intended, regenerate
with ``python tests/golden/regenerate.py`` and commit the diff with the change."""

from __future__ import annotations

import pytest

from fangpin.packs import available_packs
from tests.golden.regenerate import HERE, compiled

PACKS = {pack.id: pack.directory for pack in available_packs()}


@pytest.mark.parametrize("pack_id", sorted(PACKS))
def test_the_pack_compiles_to_its_golden_ruleset(pack_id: str) -> None:
    golden = HERE / f"{pack_id}.ruleset.json"

    assert golden.is_file(), f"no golden ruleset for {pack_id}: run python tests/golden/regenerate.py"
    assert compiled(PACKS[pack_id]) == golden.read_text(encoding="utf-8")
