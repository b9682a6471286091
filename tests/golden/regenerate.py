"""Write the compiled durable_rules ruleset of every shipped pack next to this file.

    python tests/golden/regenerate.py

Run it after an intended change to a pack or to the pack compiler, and read the diff before committing.
"""

from __future__ import annotations

import json
from pathlib import Path

from fangpin.packs import available_packs

HERE = Path(__file__).resolve().parent


def compiled(pack_dir: Path) -> str:
    from fangpin.packs import load_pack

    pack = load_pack(pack_dir)
    document = {"pack": pack.id, "hash": pack.hash, "thresholds": pack.thresholds, "ruleset": pack.ruleset}
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> None:
    for pack in available_packs():
        (HERE / f"{pack.id}.ruleset.json").write_text(compiled(pack.directory), encoding="utf-8")
        print(f"wrote {pack.id}.ruleset.json")


if __name__ == "__main__":
    main()
