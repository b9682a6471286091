"""The public entry points: ``generate_drop`` and ``generate_demo``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .contract import (
    ACCIDENT,
    COUNTY_NAMES,
    DEPARTMENTS,
    EXPECTED_DECISIONS_MAX_HOUSEHOLDS,
    FILE_NAMES,
    FORMATS,
    GENERATOR_VERSION,
    VALUE_REASONS,
    XLSX_MAX_HOUSEHOLDS,
)
from .events import _make_accidents, _make_education, _make_losses, _make_medical
from .expected import _expected
from .manifest import DEMO_SPECS, DropManifest, FileManifest, HouseholdSpec
from .render import _render_table
from .tables import _accident_table, _build_tables, _unlinkable_people
from .world import _make_world


def _choose_formats(
    rng: np.random.Generator, households: int, formats: Mapping[str, str] | str | None
) -> dict[str, str]:
    if isinstance(formats, str):
        out = {d: formats for d in DEPARTMENTS}
    else:
        out = {}
        if households <= XLSX_MAX_HOUSEHOLDS:
            pool = ["gbk", "utf8-bom", "xlsx", "utf8"] + [
                str(x) for x in rng.choice(["gbk", "utf8", "utf8-bom", "xlsx"], size=3, p=[0.35, 0.3, 0.15, 0.2])
            ]
        else:
            pool = ["gbk", "utf8", "utf8-bom"] + [str(x) for x in rng.choice(["gbk", "utf8"], size=4)]
        order = rng.permutation(len(DEPARTMENTS))
        auto = {DEPARTMENTS[int(i)]: pool[j] for j, i in enumerate(order)}
        out = {**auto, **(dict(formats) if formats else {})}
    for d, f in out.items():
        if f not in FORMATS:
            raise ValueError(f"{d}: unknown format {f!r} (one of {FORMATS})")
        if d not in DEPARTMENTS and d != ACCIDENT:
            raise ValueError(f"unknown department {d!r}")
    return out


def generate_drop(
    out_dir: Path | str,
    households: int,
    *,
    seed: int = 0,
    year: int = 2019,
    county: str = "130434",
    bad_share: float = 0.02,
    formats: Mapping[str, str] | str | None = None,
    messy: bool = True,
    correction_share: float = 0.005,
    manifest_path: Path | str | None = None,
    designed: Sequence[HouseholdSpec] = (),
    register_columns: str | None = None,
    accidents: bool = False,
    block: tuple[int, int] = (0, 1),
) -> DropManifest:
    """Write one county's synthetic drop into ``out_dir`` and return (and write) its manifest.

    ``formats`` maps a department (``DEPARTMENTS``) to ``"gbk"`` (written as GB18030, GBK-only
    characters), ``"utf8"``, ``"utf8-bom"`` or ``"xlsx"``; a single string applies to all files;
    departments left out are chosen from the seed (``.xlsx`` only when households <=
    ``XLSX_MAX_HOUSEHOLDS``). ``messy=False`` writes canonical headers in docs/exports.md's order,
    plain amounts and ISO dates, no title/blank/total rows (bad rows still follow ``bad_share``).
    The manifest goes to ``manifest_path`` or, by default, ``<out_dir>.manifest.json`` beside
    the folder, never inside it. ``register_columns`` fixes the register's income columns
    (``"income"``, ``"per_capita"`` or ``"both"``, some income cells then blank); by default the
    seed chooses. ``designed`` households (``HouseholdSpec``) get fixed facts and no injected defect.

    ``block=(index, count)`` makes this drop one of ``count`` parts of a larger one (generated one after
    another, as a drop of several million households does not fit in memory at once): household numbers
    start after the earlier blocks', and ID numbers and event ids never meet those of another block.

    ``accidents=True`` also writes the accident export (意外伤害, docs/exports.md section 5; format key
    ``"accident"``), read only by packs with the accident cause (rules/hebei-monitoring-2023). It is drawn
    from a seed of its own, so the other files are the same bytes with or without it. The manifest counts
    it like any file (rows as under a pack that reads it) and adds ``expected["accident_not_in_pack"]``:
    its rows under a pack without the accident cause (the 2019 pack, whose decisions it does not change).
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence([int(seed), 0x66616E67])
    seeds = ss.spawn(24)  # 0 world, 1 events, 2..14 tables and injection, 15 formats, 16..22 rendering
    world_rng = np.random.default_rng(seeds[0])
    n_outsiders = int(households * 4 * bad_share * 1.5) + 200
    w = _make_world(world_rng, households, year, county, designed, n_outsiders, block)
    ev_rng = np.random.default_rng(seeds[1])
    events = {
        "medical": _make_medical(ev_rng, w, designed),
        "education": _make_education(ev_rng, w, designed),
        "traffic": _make_losses(ev_rng, w, designed, "traffic"),
        "fire": _make_losses(ev_rng, w, designed, "fire"),
        "disaster": _make_losses(ev_rng, w, designed, "disaster"),
    }
    drop = _build_tables(seeds[2:15], w, events, messy=messy, bad_share=bad_share, correction_share=correction_share,
                         register_columns=register_columns)
    acc_seeds = seeds[23].spawn(4)  # accidents: 0 events, 1 table, 2 injection, 3 format and rendering
    if accidents:
        acc_events = _make_accidents(np.random.default_rng(acc_seeds[0]), w, _unlinkable_people(drop))
        drop.tables[ACCIDENT] = _accident_table(acc_seeds[1:3], drop, acc_events, messy=messy, bad_share=bad_share,
                                                correction_share=correction_share)
    elif not isinstance(formats, str) and formats and ACCIDENT in formats:
        raise ValueError("a format for the accident export, but accidents=False")
    rrng = np.random.default_rng(seeds[15])
    fmts = _choose_formats(rrng, households, formats)
    cname = COUNTY_NAMES.get(county, "某某县")
    files: list[FileManifest] = []
    for dept in DEPARTMENTS:
        names = FILE_NAMES[dept]
        stem = names[int(rrng.integers(0, len(names)))].format(county_name=cname, year=year)
        ext = ".xlsx" if fmts[dept] == "xlsx" else ".csv"
        path = out / f"{stem}{ext}"
        drng = np.random.default_rng(seeds[16 + DEPARTMENTS.index(dept)])
        files.append(_render_table(drng, drop.tables[dept], w, path, fmts[dept], messy))
    if accidents:
        arng = np.random.default_rng(acc_seeds[3])
        if isinstance(formats, str) or (formats and ACCIDENT in formats):
            afmt = fmts[ACCIDENT] if ACCIDENT in fmts else str(formats)
        else:
            pool = ["gbk", "utf8", "utf8-bom", "xlsx"] if households <= XLSX_MAX_HOUSEHOLDS else ["gbk", "utf8"]
            afmt = pool[int(arng.integers(0, len(pool)))]
        names = FILE_NAMES[ACCIDENT]
        stem = names[int(arng.integers(0, len(names)))].format(county_name=cname, year=year)
        path = out / f"{stem}{'.xlsx' if afmt == 'xlsx' else '.csv'}"
        files.append(_render_table(arng, drop.tables[ACCIDENT], w, path, afmt, messy))
    decisions, summary = _expected(drop)
    rej: dict[str, int] = {}
    skip: dict[str, int] = {"title": 0, "blank": 0, "total": 0}
    for f in files:
        for r, rows in f.rejected.items():
            rej[r] = rej.get(r, 0) + len(rows)
        for k, rows in f.skipped.items():
            skip[k] += len(rows)
    totals = {
        "rows_read": sum(f.rows_read for f in files),
        "rows_used": sum(f.rows_used for f in files),
        "rows_rejected": sum(f.rows_rejected for f in files),
        "rows_skipped": sum(f.rows_skipped for f in files),
        "rejected": {k: rej[k] for k in sorted(rej)},
        "skipped": skip,
        "corrections": sum(len(f.corrections) for f in files),
    }
    hid = w.hh_id.to_list()
    designed_out = [
        {"household_id": hid[slot], "label": sp.label, "intent": sp.intent}
        for slot, sp in zip(w.designed_slots, designed, strict=True)
    ]
    # The strings written into the manifest and the files ("fangpin.synth", "SPEC.md", "SPEC ex. N" in the
    # designed households' intents) predate the move to tools/ and are kept: the shipped demo drop and its
    # manifest stay byte-identical (tests/unit/test_synth.py). SPEC.md is docs/policy.md, same numbering.
    manifest = DropManifest(
        generator="fangpin.synth", version=GENERATOR_VERSION, seed=int(seed), year=year, county=county,
        households=households, bad_share=bad_share, correction_share=correction_share, messy=messy,
        drop=out.name, files=files, totals=totals,
        expected={
            "pack": "default 2019 pack as specified in SPEC.md (deductibles 5000/20000, 8000, 10000; "
                    "tiers and caps as listed); one run on an empty database",
            "summary": summary,
            "decisions": decisions if households <= EXPECTED_DECISIONS_MAX_HOUSEHOLDS else None,
        },
        designed=designed_out,
    )
    if accidents:
        manifest.expected["accident_not_in_pack"] = _not_in_pack(files[-1])
    mpath = Path(manifest_path) if manifest_path else out.parent / f"{out.name}.manifest.json"
    mpath.write_text(manifest.to_json(), encoding="utf-8")
    manifest.seconds = time.perf_counter() - t0
    return manifest


def _not_in_pack(f: FileManifest) -> dict[str, object]:
    """The accident file's rows under a pack without the accident cause: rows failing a value check are still
    rejected, title/blank/total rows skipped as such, every other row skipped as ``not_in_pack``."""
    rejected = {r: len(rows) for r, rows in f.rejected.items() if r in VALUE_REASONS}
    layout = sum(len(rows) for rows in f.skipped.values())
    not_in_pack = f.rows_read - layout - sum(rejected.values())
    return {
        "file": f.name, "rows_read": f.rows_read, "rows_used": 0, "rows_rejected": sum(rejected.values()),
        "rows_skipped": layout + not_in_pack, "rejected": rejected,
        "skipped": {**{k: len(rows) for k, rows in f.skipped.items()}, "not_in_pack": not_in_pack},
    }


DEMO_SEED = 20190111
DEMO_HOUSEHOLDS = 40
DEMO_FORMATS = {
    "household_register": "gbk",
    "members": "xlsx",
    "medical": "utf8-bom",
    "education": "xlsx",
    "traffic": "utf8",
    "fire": "gbk",
    "disaster": "utf8-bom",
}


def generate_demo(out_dir: Path | str, manifest_path: Path | str | None = None) -> DropManifest:
    """The shipped demo drop (fixtures/demo): 40 households, 15 of them designed (DEMO_SPECS)."""
    return generate_drop(
        out_dir, DEMO_HOUSEHOLDS, seed=DEMO_SEED, bad_share=0.05, formats=DEMO_FORMATS, messy=True,
        correction_share=0.02, manifest_path=manifest_path, designed=DEMO_SPECS, register_columns="both",
    )
