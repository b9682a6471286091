"""Synthetic county data drops, exactly to the export contract (docs/exports.md): a development tool.

Not part of the installed ``fangpin`` package: the tests (pytest's ``pythonpath`` includes ``tools/``)
and the ``bench/`` scripts (which put ``tools/`` on ``sys.path``) import it as ``fangpin_synth``. It needs
numpy, which the ``[test]`` extra installs; fangpin itself does not.

``generate_drop(out_dir, households, seed=...)`` writes the seven department files of one
county's drop (household register, member register, medical settlements, education payments,
traffic accidents, fires, natural disasters), and with ``accidents=True`` an eighth, the accident
export (意外伤害, docs/exports.md section 5: about 3 % of people a year, read only by packs with the
accident cause, e.g. rules/hebei-monitoring-2023; drawn from a seed of its own, so the seven files are the
same bytes with or without it) into ``out_dir`` and a manifest *beside* it
(``<out_dir>.manifest.json``, never inside the drop folder) that says, per file, what a correct
screener must find: rows read, the skipped rows (title, blank, total) and every rejected row with
its reason code and row number, plus the corrections (same event id, new content, later row).
It also carries the decisions a correct screener must return under the default 2019 pack
(docs/policy.md), computed here independently in integer fen (accidents play no part in it; the accident
file's rows under such a pack, ``not_in_pack`` but for value rejects, are in ``expected["accident_not_in_pack"]``).

Everything is drawn from one seed, so a drop is byte-for-byte reproducible. The heavy lifting is
vectorised with numpy and polars: a million households (about nine million rows) take well
under two minutes. Only the standard library, numpy, polars and xlsxwriter are imported.

Ground rules the generator keeps so that the manifest is unambiguous:

* one defect per bad row, except the rows listed with ``also`` (two column defects, the first
  in the column order of docs/exports.md is the expected reason);
* rows of a household whose register row is rejected are never given any other defect: its
  member rows are expected as ``unknown_household`` and its people's events as
  ``unknown_person``;
* bad member rows are only injected for people with no events, and never where they would
  change a household's labour capacity;
* event ids are unique per row (one person per event id), so a repeated id is always either an
  identical duplicate or a correction;
* every natural event is dated inside the policy year; ``outside_policy_year`` rows are injected;
* blank lines sit strictly between data rows, title lines strictly above the header and the
  totals row is the last line.

Modules, in the order a drop is made: ``contract`` (fields, aliases, reasons, vocabulary), ``manifest``
(what a screener must find; the demo's designed households), ``world`` (households and people),
``events`` (the year's medical, school and loss events), ``defects`` (cell styles and injected defects),
``tables`` (the seven department tables), ``render`` (files: CSV in three encodings or xlsx),
``expected`` (the decisions under the 2019 pack, in integer fen) and ``generate`` (the entry points).
"""

from .contract import ALL_ALIASES, DEPARTMENTS, FIELDS, KEY_FIELD, XLSX_MAX_HOUSEHOLDS
from .generate import DEMO_FORMATS, DEMO_HOUSEHOLDS, DEMO_SEED, generate_demo, generate_drop
from .manifest import DEMO_SPECS, DropManifest, FileManifest, HouseholdSpec

__all__ = [
    "ALL_ALIASES",
    "DEMO_FORMATS",
    "DEMO_HOUSEHOLDS",
    "DEMO_SEED",
    "DEMO_SPECS",
    "DEPARTMENTS",
    "FIELDS",
    "KEY_FIELD",
    "XLSX_MAX_HOUSEHOLDS",
    "DropManifest",
    "FileManifest",
    "HouseholdSpec",
    "generate_demo",
    "generate_drop",
]
