"""The synthetic drop generator: deterministic, to the export contract, and its manifest right.

The manifest is checked against a small reference reader written here from EXPORTS.md alone
(it shares only the header aliases with the generator): it reads every file of a drop, classifies
every row, lists every defect of every row, links people to households and recomputes the
decisions under the default 2019 pack in Decimal.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import ric

import fangpin_synth as synth

REPO = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO / "fixtures" / "demo"
DEMO_MANIFEST = REPO / "fixtures" / "demo.manifest.json"
CENT = Decimal("0.01")


# ---------------------------------------------------------------------------------------------
# A reference reader, from EXPORTS.md
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XNum:
    """An Excel number cell, as written in the sheet XML."""

    text: str


class Bad(Exception):
    pass


_FW = str.maketrans("０１２３４５６７８９", "0123456789")
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def physical_rows(path: Path) -> tuple[list[list[Any]], str | None]:
    """Every physical row of a file (1-based as index + 1) and the detected encoding."""
    if path.suffix == ".xlsx":
        return xlsx_rows(path), None
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
    else:
        try:
            raw.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError:
            enc = "gb18030"
    text = raw.decode(enc).replace("\r\n", "\n")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    return [next(csv.reader([line])) if line else [] for line in lines], enc


def xlsx_rows(path: Path) -> list[list[Any]]:
    with zipfile.ZipFile(path) as z:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.namelist():
            for si in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(f"{_NS}si"):
                shared.append("".join(t.text or "" for t in si.iter(f"{_NS}t")))
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows: dict[int, list[Any]] = {}
    for row in sheet.iter(f"{_NS}row"):
        r = int(row.get("r"))
        cells: list[Any] = []
        for c in row.iter(f"{_NS}c"):
            col = 0
            for ch in re.match(r"[A-Z]+", c.get("r")).group(0):
                col = col * 26 + ord(ch) - 64
            v = c.find(f"{_NS}v")
            t = c.get("t")
            if t == "s":
                val: Any = shared[int(v.text)]
            elif t == "inlineStr":
                val = "".join(x.text or "" for x in c.iter(f"{_NS}t"))
            elif v is None:
                val = ""
            elif t == "str":
                val = v.text or ""
            else:
                val = XNum(v.text)
            while len(cells) < col - 1:
                cells.append("")
            cells.append(val)
        if any(x != "" for x in cells):
            rows[r] = cells
    last = max(rows)
    return [rows.get(i, []) for i in range(1, last + 1)]


def is_blank(cell: Any) -> bool:
    return not isinstance(cell, XNum) and str(cell).strip() == ""


def parse_amount(cell: Any) -> Decimal | None:
    if isinstance(cell, XNum):
        d = Decimal(repr(float(cell.text)))  # the cell's double, as its shortest decimal repr
    else:
        s = str(cell).strip().translate(_FW)
        if s == "":
            return None
        s = s.removeprefix("￥").removesuffix("元").replace(",", "")
        if not re.fullmatch(r"\d+(\.\d+)?", s):
            raise Bad("bad_amount")
        d = Decimal(s)
    if d < 0:
        raise Bad("bad_amount")
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_date(cell: Any) -> dt.date:
    if isinstance(cell, XNum):
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(float(cell.text)))
    s = str(cell).strip()
    for pat in (r"(\d{4})-(\d{1,2})-(\d{1,2})", r"(\d{4})/(\d{1,2})/(\d{1,2})", r"(\d{4})\.(\d{1,2})\.(\d{1,2})",
                r"(\d{4})(\d{2})(\d{2})", r"(\d{4})年(\d{1,2})月(\d{1,2})日"):
        m = re.fullmatch(pat, s)
        if m:
            try:
                return dt.date(*(int(x) for x in m.groups()))
            except ValueError:
                raise Bad("bad_date") from None
    raise Bad("bad_date")


def parse_id(cell: Any) -> str:
    s = str(cell).strip().translate(_FW).upper()
    if not re.fullmatch(r"\d{17}[\dX]", s):
        raise Bad("bad_id_number")
    total = sum(int(c) * w for c, w in zip(s[:17], (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    if "10X98765432"[total % 11] != s[17]:
        raise Bad("bad_id_number")
    return s


def parse_members(cell: Any) -> int:
    if isinstance(cell, XNum):
        d = Decimal(repr(float(cell.text)))
        if d != d.to_integral_value() or d < 1:
            raise Bad("bad_members")
        return int(d)
    s = str(cell).strip()
    if not re.fullmatch(r"\d+", s) or int(s) < 1:
        raise Bad("bad_members")
    return int(s)


def parse_code(cell: Any, allowed: set[str], reason: str) -> str:
    s = str(cell).strip() if not isinstance(cell, XNum) else cell.text
    if s not in allowed:
        raise Bad(reason)
    return s


STATUS = {"脱贫户": "exited", "未脱贫户": "registered_poor", "贫困户": "registered_poor", "一般农户": "never",
          "边缘户": "never", "非贫困户": "never"}
HOUSING = {"是": True, "Y": True, "1": True, "否": False, "N": False, "0": False}
ABLE = {"技能劳动力", "普通劳动力", "弱劳动力或半劳动力"}
LABOUR = ABLE | {"丧失劳动力", "无劳动力"}
STAGES = {"普通高中", "高中", "中职", "中等职业教育", "高职", "大专", "专科", "本科", "研究生", "硕士", "博士",
          "小学", "初中"}


@dataclass
class RowResult:
    row: int
    kind: str  # used | rejected | title | blank | total
    defects: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    replaces: int | None = None


def department_of(header: list[Any]) -> tuple[str, dict[int, str]]:
    cells = [str(c).strip() for c in header]
    found = []
    for dept, spec in synth.FIELDS.items():
        cols = {}
        for j, c in enumerate(cells):
            for f, _kind, aliases in spec:
                if c in aliases and f not in cols.values():
                    cols[j] = f
        fields = set(cols.values())
        required = {f for f, _, _ in spec} - {"personal", "income", "income_per_capita"}
        if required <= fields and (dept != "household_register" or fields & {"income", "income_per_capita"}):
            found.append((dept, cols))
    assert len(found) == 1, found
    return found[0]


def find_header(rows: list[list[Any]]) -> int:
    for i, r in enumerate(rows):
        cells = {str(c).strip() for c in r}
        if len(cells & synth.ALL_ALIASES) >= 3:
            return i
    raise AssertionError("no header")


@dataclass
class State:
    year: int
    households: dict[str, dict[str, Any]] = field(default_factory=dict)  # used register rows
    person_hh: dict[str, str] = field(default_factory=dict)  # id -> household (member rows)
    head_hh: dict[str, str] = field(default_factory=dict)
    able: dict[str, bool] = field(default_factory=dict)
    events: dict[str, dict[str, tuple[Any, ...]]] = field(default_factory=dict)  # dept -> id -> content
    used_events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def read_file(path: Path, state: State, only: str | None = None) -> tuple[str, list[RowResult], str | None, int]:
    rows, enc = physical_rows(path)
    h = find_header(rows)
    dept, cols = department_of(rows[h])
    if only and dept != only:
        return dept, [], enc, h + 1
    results = [RowResult(i + 1, "title") for i in range(h)]
    order = [f for f, _, _ in synth.FIELDS[dept]]
    for i in range(h + 1, len(rows)):
        r = rows[i]
        cells = {f: (r[j] if j < len(r) else "") for j, f in cols.items()}
        if all(is_blank(c) for c in r):
            results.append(RowResult(i + 1, "blank"))
            continue
        if r and not isinstance(r[0], XNum) and str(r[0]).strip() in ("合计", "总计"):
            results.append(RowResult(i + 1, "total"))
            continue
        res = RowResult(i + 1, "used")
        rec: dict[str, Any] = {}
        for f in order:
            if f not in cells:
                continue
            kind = next(k for g, k, _ in synth.FIELDS[dept] if g == f)
            c = cells[f]
            try:
                if kind == "id":
                    rec[f] = parse_id(c)
                elif kind == "amount":
                    rec[f] = parse_amount(c)
                elif kind == "date":
                    rec[f] = parse_date(c)
                elif kind == "int":
                    rec[f] = parse_members(c)
                elif f == "status":
                    rec[f] = STATUS[parse_code(c, set(STATUS), "bad_status")]
                elif f == "housing_secure":
                    rec[f] = HOUSING[parse_code(c, set(HOUSING), "bad_value")]
                elif f == "labour":
                    rec[f] = parse_code(c, LABOUR, "bad_value") in ABLE
                elif f == "stage":
                    rec[f] = parse_code(c, STAGES, "bad_stage")
                elif f == "full_time":
                    rec[f] = parse_code(c, {"全日制", "非全日制"}, "bad_value") == "全日制"
                else:
                    rec[f] = str(c).strip()
            except Bad as e:
                res.defects.append(str(e))
        relational(dept, rec, res, state)
        if res.defects:
            res.kind = "rejected"
        else:
            res.record = rec
            commit(dept, rec, res, state)
        results.append(res)
    return dept, results, enc, h + 1


def relational(dept: str, rec: dict[str, Any], res: RowResult, s: State) -> None:
    if dept == "household_register":
        if rec["household_id"] in s.households:
            res.defects.append("duplicate_household")
        return
    if dept == "members":
        if rec["household_id"] not in s.households:
            res.defects.append("unknown_household")
        pid = rec.get("id_number")
        if pid and pid in s.person_hh and s.person_hh[pid] != rec["household_id"]:
            res.defects.append("duplicate_person")
        return
    pid = rec.get("id_number")
    if pid and pid not in s.person_hh and pid not in s.head_hh:
        res.defects.append("unknown_person")
    if isinstance(rec.get("date"), dt.date) and rec["date"].year != s.year:
        res.defects.append("outside_policy_year")
    if dept == "medical" and all(f in rec for f in ("total", "basic", "critical", "assistance")):
        burden = sum_((rec["total"],)) - sum_((rec["basic"], rec["critical"], rec["assistance"]))
        rec["burden"] = burden
        if burden < 0 or (rec.get("personal") is not None and abs(rec["personal"] - burden) > CENT):
            res.defects.append("inconsistent_amounts")
    key = rec[synth.KEY_FIELD[dept]]
    content = tuple(sorted((k, str(v)) for k, v in rec.items() if k != "burden"))
    seen = s.events.setdefault(dept, {})
    if key in seen and seen[key] == content and not res.defects:
        res.defects.append("duplicate_event")


def sum_(xs: tuple[Decimal | None, ...]) -> Decimal:
    return sum((x or Decimal(0) for x in xs), Decimal(0))


def commit(dept: str, rec: dict[str, Any], res: RowResult, s: State) -> None:
    if dept == "household_register":
        s.households[rec["household_id"]] = rec
        s.head_hh[rec["head_id"]] = rec["household_id"]
        return
    if dept == "members":
        s.person_hh.setdefault(rec["id_number"], rec["household_id"])
        hh = rec["household_id"]
        s.able[hh] = s.able.get(hh, False) or rec["labour"]
        return
    key = rec[synth.KEY_FIELD[dept]]
    content = tuple(sorted((k, str(v)) for k, v in rec.items() if k != "burden"))
    seen = s.events.setdefault(dept, {})
    used = s.used_events.setdefault(dept, {})
    if key in seen:
        res.replaces = used[key]["_row"]
    seen[key] = content
    used[key] = {**rec, "_row": res.row}


def read_drop(drop: Path, year: int) -> tuple[State, dict[str, tuple[str, list[RowResult], str | None, int]]]:
    state = State(year)
    out: dict[str, tuple[str, list[RowResult], str | None, int]] = {}
    files = sorted(p for p in drop.iterdir() if p.suffix in (".csv", ".xlsx"))
    for dept in synth.DEPARTMENTS:
        for p in files:
            d, results, enc, header = read_file(p, state, only=dept)
            if d == dept:
                out[p.name] = (d, results, enc, header)
                break
    return state, out


def half_up(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def tiered(excess: Decimal, tiers: list[tuple[Decimal | None, Decimal]], cap: Decimal) -> Decimal:
    total, lo = Decimal(0), Decimal(0)
    for hi, rate in tiers:
        top = excess if hi is None else min(excess, hi)
        total += max(Decimal(0), top - lo) * rate
        if hi is not None:
            lo = hi
    return half_up(min(total, cap))


def reference_decisions(state: State) -> list[dict[str, str]]:
    D = Decimal
    link = {**state.head_hh, **state.person_hh}
    base: dict[str, dict[str, Decimal]] = {h: {"illness": D(0), "schooling": D(0), "disaster": D(0)}
                                           for h in state.households}
    for rec in state.used_events.get("medical", {}).values():
        base[link[rec["id_number"]]]["illness"] += rec["burden"]
    for rec in state.used_events.get("education", {}).values():
        if rec["full_time"] and rec["stage"] not in ("小学", "初中"):
            base[link[rec["id_number"]]]["schooling"] += sum_((rec["tuition"], rec["accommodation"], rec["textbooks"]))
    for dept in ("traffic", "fire", "disaster"):
        for rec in state.used_events.get(dept, {}).values():
            own = max(D(0), sum_((rec["loss"],)) - sum_((rec["compensation"],)))
            base[link[rec["id_number"]]]["disaster"] += own
    out = []
    for hid in sorted(state.households):
        h = state.households[hid]
        # income wins; the per-capita column counts when income is absent or blank
        pc = half_up(h["income"] / h["members"]) if h.get("income") is not None else h["income_per_capita"]
        group = {"exited": "unstable_exit", "never": "edge"}.get(h["status"], "")
        covered = group != "" and pc < D("4800.00")
        zero = D("0.00")
        amounts = {"illness": zero, "schooling": zero, "disaster": zero}
        if not covered:
            outcome, group = "not_covered", ""
        elif not state.able.get(hid, False) and h["housing_secure"]:
            outcome = "refer_dibao"
        else:
            b = base[hid]
            ded = D(5000) if group == "unstable_exit" else D(20000)
            amounts["illness"] = tiered(max(D(0), b["illness"] - ded),
                                        [(D(20000), D("0.5")), (D(50000), D("0.6")), (None, D("0.7"))], D(100000))
            amounts["schooling"] = tiered(max(D(0), b["schooling"] - D(8000)),
                                          [(D(10000), D("0.5")), (None, D("0.6"))], D(30000))
            amounts["disaster"] = tiered(max(D(0), b["disaster"] - D(10000)), [(None, D("0.5"))], D(50000))
            outcome = "pay" if sum(amounts.values()) > 0 else "below_deductible"
        payout = sum(amounts.values(), zero)
        out.append({
            "household_id": hid, "group": group, "outcome": outcome, "per_capita_income": f"{pc:.2f}",
            "illness": f"{amounts['illness']:.2f}", "schooling": f"{amounts['schooling']:.2f}",
            "disaster": f"{amounts['disaster']:.2f}", "payout": f"{payout:.2f}",
            "fee": f"{half_up(payout * D('0.15')):.2f}",
        })
    return out


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------

SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, synth.DropManifest]]:
    root = tmp_path_factory.mktemp("drops")
    out = {}
    for seed in SEEDS:
        d = root / f"drop{seed}"
        out[seed] = (d, synth.generate_drop(d, 150 + 40 * seed, seed=seed))
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.DropManifest]:
    d = tmp_path_factory.mktemp("demo") / "demo"
    return d, synth.generate_demo(d)


def all_drops(drops: dict[int, tuple[Path, synth.DropManifest]], demo: tuple[Path, synth.DropManifest]):
    return [*drops.values(), demo]


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_same_seed_writes_byte_identical_files_and_manifest(tmp_path: Path) -> None:
    a = synth.generate_drop(tmp_path / "a", 120, seed=7)
    b = synth.generate_drop(tmp_path / "b", 120, seed=7)

    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    ja = json.loads((tmp_path / "a.manifest.json").read_text(encoding="utf-8"))
    jb = json.loads((tmp_path / "b.manifest.json").read_text(encoding="utf-8"))
    ja.pop("drop")
    jb.pop("drop")
    assert ja == jb
    assert a.totals == b.totals


def test_another_seed_writes_other_data(tmp_path: Path) -> None:
    synth.generate_drop(tmp_path / "a", 60, seed=1, formats="utf8")
    synth.generate_drop(tmp_path / "b", 60, seed=2, formats="utf8")

    a = b"".join(p.read_bytes() for p in sorted((tmp_path / "a").iterdir()))
    b = b"".join(p.read_bytes() for p in sorted((tmp_path / "b").iterdir()))
    assert a != b


def test_drop_has_the_seven_department_files_and_the_manifest_beside_it(drops, demo) -> None:
    for drop, manifest in all_drops(drops, demo):
        files = sorted(drop.iterdir())
        assert len(files) == 7
        assert all(p.suffix in (".csv", ".xlsx") for p in files)
        assert sorted(f.department for f in manifest.files) == sorted(synth.DEPARTMENTS)
        assert {f.name for f in manifest.files} == {p.name for p in files}
        assert (drop.parent / f"{drop.name}.manifest.json").is_file()


def test_manifest_rows_read_is_every_physical_row_but_the_header(drops, demo) -> None:
    for drop, manifest in all_drops(drops, demo):
        for f in manifest.files:
            rows, enc = physical_rows(drop / f.name)

            assert f.rows_read == len(rows) - 1, f.name
            assert f.rows_read == f.rows_used + f.rows_rejected + f.rows_skipped
            assert f.encoding == enc
            if f.format == "csv":
                raw = (drop / f.name).read_bytes()
                assert f.rows_read == raw.count(b"\n") - 1


def test_reference_reader_finds_exactly_the_manifest_rows(drops, demo) -> None:
    for drop, manifest in all_drops(drops, demo):
        _state, read = read_drop(drop, manifest.year)
        for f in manifest.files:
            dept, results, _enc, header_row = read[f.name]
            assert dept == f.department
            assert header_row == f.header_row
            by_kind: dict[str, list[int]] = {}
            for r in results:
                by_kind.setdefault(r.kind, []).append(r.row)
            for k in ("title", "blank", "total"):
                assert by_kind.get(k, []) == f.skipped[k], (f.name, k)
            expected = {x["row"]: x for x in f.rejected_rows}
            got = {r.row: r for r in results if r.kind == "rejected"}
            assert sorted(got) == sorted(expected), f.name
            for row, x in expected.items():
                defects = got[row].defects
                want = [x["reason"]] + ([x["also"]] if "also" in x else [])
                assert defects == want, (f.name, row, defects, x)
            assert len(by_kind.get("used", [])) == f.rows_used
            corrections = [{"row": r.row, "replaces_row": r.replaces} for r in results if r.replaces]
            assert corrections == [{"row": c["row"], "replaces_row": c["replaces_row"]} for c in f.corrections]


def test_an_identical_repeat_repeats_every_cell_but_a_running_number(drops, demo) -> None:
    seen = 0
    for drop, manifest in all_drops(drops, demo):
        for f in manifest.files:
            dups = f.rejected.get("duplicate_event", [])
            if not dups:
                continue
            rows, _enc = physical_rows(drop / f.name)
            key = next(j for j, c in enumerate(f.columns) if c["field"] == synth.KEY_FIELD[f.department])
            keep = [j for j, c in enumerate(f.columns) if c["header"] != "序号"]
            width = len(f.columns)
            padded = [r + [""] * (width - len(r)) for r in rows]
            for row in dups:
                dup = padded[row - 1]
                first = next(r for r in padded[f.header_row:row - 1] if r[key] == dup[key])
                assert [first[j] for j in keep] == [dup[j] for j in keep]
                seen += 1
    assert seen


def test_every_reason_code_is_injected_in_a_drop_of_some_size(drops) -> None:
    _drop, manifest = drops[3]
    reasons = set(manifest.totals["rejected"])

    assert reasons == {
        "bad_id_number", "bad_amount", "bad_date", "bad_members", "bad_status", "bad_stage", "bad_value",
        "inconsistent_amounts", "duplicate_household", "duplicate_person", "duplicate_event",
        "unknown_household", "unknown_person", "outside_policy_year",
    }
    assert manifest.totals["corrections"] > 0
    assert manifest.totals["skipped"]["title"] + manifest.totals["skipped"]["total"] > 0


def test_used_rows_carry_id_numbers_that_stdnum_accepts(drops, demo) -> None:
    for drop, manifest in all_drops(drops, demo):
        state, read = read_drop(drop, manifest.year)
        ids = set(state.person_hh) | set(state.head_hh)
        for _dept, results, _enc, _h in read.values():
            for r in results:
                if r.kind == "used" and "id_number" in r.record:
                    ids.add(r.record["id_number"])

        assert ids
        invalid = [i for i in ids if not ric.is_valid(i)]
        assert invalid == []


def test_bad_id_rows_fail_stdnum_too(drops) -> None:
    drop, manifest = drops[2]
    for f in manifest.files:
        rows, _enc = physical_rows(drop / f.name)
        header = [str(c).strip() for c in rows[f.header_row - 1]]
        id_cols = [j for j, c in enumerate(f.columns) if c["field"] in ("id_number", "head_id")]
        assert [header[j] for j in id_cols] == [f.columns[j]["header"] for j in id_cols]
        for x in f.rejected_rows:
            if x["reason"] == "bad_id_number":
                cell = rows[x["row"] - 1][id_cols[0]]
                assert not ric.is_valid(str(cell).strip().translate(_FW))


def test_expected_decisions_match_a_reference_calculation(drops, demo) -> None:
    for drop, manifest in all_drops(drops, demo):
        state, _read = read_drop(drop, manifest.year)
        mine = [{k: d[k] for k in ("household_id", "group", "outcome", "per_capita_income", "illness", "schooling",
                                   "disaster", "payout", "fee")} for d in manifest.expected["decisions"]]

        assert mine == reference_decisions(state)
        outcomes = manifest.expected["summary"]["outcomes"]
        assert sum(outcomes.values()) == len(mine)


def test_gbk_files_hold_only_gbk_characters(drops, demo) -> None:
    for drop, manifest in all_drops(drops, demo):
        gbk = [f for f in manifest.files if f.encoding == "gb18030"]

        assert gbk, f"{drop.name}: no GBK file, so nothing was checked"  # small drops always get one
        for f in gbk:
            text = (drop / f.name).read_bytes().decode("gbk")  # raises on a GB18030-only character
            assert any("\u4e00" <= c <= "\u9fff" for c in text), f.name  # Chinese text, not plain ASCII


def test_plain_drop_has_canonical_headers_in_contract_order(tmp_path: Path) -> None:
    m = synth.generate_drop(tmp_path / "plain", 50, seed=5, messy=False, bad_share=0, correction_share=0)

    for f in m.files:
        fields = [c["field"] for c in f.columns]
        order = [g for g, _, _ in synth.FIELDS[f.department] if g in fields]
        assert fields == order
        assert [c["header"] for c in f.columns] == [
            next(al[0] for g, _, al in synth.FIELDS[f.department] if g == c["field"]) for c in f.columns
        ]
        assert f.header_row == 1
        assert f.rows_rejected == f.rows_skipped == 0


def test_big_drops_are_written_as_csv_only(tmp_path: Path) -> None:
    m = synth.generate_drop(tmp_path / "big", synth.XLSX_MAX_HOUSEHOLDS + 1, seed=11, bad_share=0.01)

    assert {f.format for f in m.files} == {"csv"}
    assert {"gb18030", "utf-8"} <= {f.encoding for f in m.files}
    assert m.expected["decisions"] is None
    assert m.expected["summary"]["decisions"] > 0


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        synth.generate_drop(tmp_path / "x", 5, formats={"medical": "ods"})


def test_demo_has_the_promised_mix(demo) -> None:
    _drop, m = demo
    encodings = {(f.format, f.encoding) for f in m.files}
    decisions = {d["household_id"]: d for d in m.expected["decisions"]}
    designed = {d["label"]: decisions[d["household_id"]] for d in m.designed}

    assert {("csv", "gb18030"), ("csv", "utf-8-sig"), ("xlsx", None)} <= encodings
    assert m.totals["skipped"]["title"] > 0 and m.totals["skipped"]["total"] > 0
    assert len(m.totals["rejected"]) >= 8
    assert (designed["illness_edge"]["group"], designed["illness_edge"]["illness"]) == ("edge", "13000.00")
    assert designed["illness_exit"]["illness"] == "3672.84"
    assert designed["schooling_exit"]["schooling"] == "150.00"
    assert designed["schooling_edge"]["schooling"] == "5300.00"
    assert designed["disaster_edge"]["disaster"] == "13000.00"
    assert designed["disaster_exit"]["disaster"] == "7500.00"
    assert designed["refer_dibao"]["outcome"] == "refer_dibao"
    assert (designed["exactly_4800"]["per_capita_income"], designed["exactly_4800"]["outcome"]) == (
        "4800.00", "not_covered")
    assert designed["rounds_to_4800"]["per_capita_income"] == "4800.00"
    assert designed["just_below"]["per_capita_income"] == "4799.99"
    assert designed["registered_poor"]["outcome"] == "not_covered"
    assert (designed["illness_cap"]["illness"], designed["illness_cap"]["fee"]) == ("100000.00", "15000.00")
    assert designed["below_deductible"]["outcome"] == "below_deductible"
    assert designed["no_labour_unsafe_housing"]["payout"] == "5000.00"
    assert (designed["three_causes"]["payout"], designed["three_causes"]["fee"]) == ("3500.00", "525.00")


@pytest.mark.skipif(not DEMO_DIR.is_dir(), reason="demo fixture not checked in")
def test_checked_in_demo_is_what_the_generator_writes(demo) -> None:
    drop, _m = demo

    assert sorted(p.name for p in DEMO_DIR.iterdir()) == sorted(p.name for p in drop.iterdir())
    for p in drop.iterdir():
        assert (DEMO_DIR / p.name).read_bytes() == p.read_bytes(), p.name
    assert DEMO_MANIFEST.read_text(encoding="utf-8") == (drop.parent / "demo.manifest.json").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The opt-in accident export (screened in tests/unit/test_synth_accidents.py)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "gbk"])
def test_the_accident_export_is_opt_in_and_leaves_every_other_file_as_it_was(tmp_path: Path, fmt: str) -> None:
    plain = synth.generate_drop(tmp_path / "plain", 300, seed=8, year=2023)
    with_acc = synth.generate_drop(tmp_path / "acc", 300, seed=8, year=2023, accidents=True,
                           formats={"accident": fmt}, bad_share=0.05)
    synth.generate_drop(tmp_path / "acc2", 300, seed=8, year=2023, accidents=True,
                        formats={"accident": fmt}, bad_share=0.05)

    assert "accident_not_in_pack" not in plain.expected
    assert sorted(f.department for f in with_acc.files) == sorted([*synth.DEPARTMENTS, "accident"])
    acc = with_acc.file("accident")
    assert acc.format == ("xlsx" if fmt == "xlsx" else "csv")
    for name in sorted(p.name for p in (tmp_path / "acc").iterdir()):
        assert (tmp_path / "acc" / name).read_bytes() == (tmp_path / "acc2" / name).read_bytes(), name
    same_share = synth.generate_drop(tmp_path / "acc3", 300, seed=8, year=2023, accidents=True)
    for f in plain.files:
        assert (tmp_path / "plain" / f.name).read_bytes() == (tmp_path / "acc3" / f.name).read_bytes(), f.name
    assert same_share.expected["summary"] == plain.expected["summary"]
    assert same_share.totals["rows_read"] == plain.totals["rows_read"] + same_share.file("accident").rows_read


def test_reference_reader_finds_exactly_the_accident_manifest_rows(tmp_path: Path) -> None:
    drop = tmp_path / "acc"
    manifest = synth.generate_drop(drop, 700, seed=13, year=2023, accidents=True, bad_share=0.05,
                                   correction_share=0.02)
    f = manifest.file("accident")
    state, _read = read_drop(drop, manifest.year)

    dept, results, _enc, header_row = read_file(drop / f.name, state, only="accident")

    assert (dept, header_row) == ("accident", f.header_row)
    assert next(c["header"] for c in f.columns if c["field"] == "id_number") in ("伤者身份证号", "身份证号")
    by_kind: dict[str, list[int]] = {}
    for r in results:
        by_kind.setdefault(r.kind, []).append(r.row)
    for k in ("title", "blank", "total"):
        assert by_kind.get(k, []) == f.skipped[k], k
    got = {r.row: r.defects for r in results if r.kind == "rejected"}
    assert got == {x["row"]: [x["reason"]] + ([x["also"]] if "also" in x else []) for x in f.rejected_rows}
    assert set(f.rejected) == {"bad_id_number", "bad_date", "bad_amount", "duplicate_event", "unknown_person",
                               "outside_policy_year"}
    assert len(by_kind["used"]) == f.rows_used > 50
    assert [{"row": r.row, "replaces_row": r.replaces} for r in results if r.replaces] == [
        {"row": c["row"], "replaces_row": c["replaces_row"]} for c in f.corrections] != []
    used = [r.record for r in results if r.kind == "used"]
    assert all(rec["date"].year == 2023 for rec in used)
    own = [max(Decimal(0), sum_((rec["loss"],)) - sum_((rec["compensation"],))) for rec in used]
    assert sum(1 for o in own if o == 0) > 0 and sum(1 for o in own if o > 5000) > 0  # some compensated in full
    not_in_pack = manifest.expected["accident_not_in_pack"]
    assert not_in_pack["rows_read"] == not_in_pack["rows_rejected"] + not_in_pack["rows_skipped"] == f.rows_read
    assert not_in_pack["skipped"]["not_in_pack"] == f.rows_used + sum(
        len(f.rejected.get(r, [])) for r in ("duplicate_event", "unknown_person", "outside_policy_year"))


def test_an_accident_format_without_accidents_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="accident"):
        synth.generate_drop(tmp_path / "x", 5, formats={"accident": "utf8"})
