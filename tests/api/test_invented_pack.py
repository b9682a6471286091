"""A pack with a cause and a group that the code has never heard of (livestock losses, 因畜牧; a group
"relief_watch", 重点关注户), its export read through a source profile written for it: screened, stored,
checked through the API, replayed and reported, with nothing in fangpin's code knowing either name.

The pack is the shipped monitoring pack with its accident cause and its third group renamed; its export is
the 2023 demo's accident file with other headers. So every figure must equal the monitoring run's, the
accident column renamed: what the names are must not matter to the engine.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fangpin.db.session import session_scope
from fangpin.packs import load_pack
from fangpin.services.replay import replay_decision, replay_run
from fangpin.services.screening import ScreenRequest, screen
from tests.api.conftest import Api

REPO = Path(__file__).resolve().parents[2]
HEBEI = REPO / "rules" / "hebei-monitoring-2023"
DEMO = REPO / "fixtures" / "demo-2023"
RENAMES = (("hebei-monitoring-2023", "invented-2023"), ("sudden_hardship", "relief_watch"),
           ("突发严重困难户", "重点关注户"), ("accident", "livestock"), ("因意外", "因畜牧"))
SOURCE = """\
department: livestock_bureau
label: 畜牧兽医局牲畜死亡登记
cause: livestock
event_id: event_id
content: [id_number, date, loss, compensation]
identify:
  - [event_id, loss]
rules: [own_loss]
fields:
  - {name: event_id, headers: [死亡登记编号], kind: text, blank: reject}
  - {name: id_number, headers: [畜主身份证号], kind: id_number}
  - {name: date, headers: [死亡日期], kind: date}
  - {name: loss, headers: [牲畜损失金额], kind: amount}
  - {name: compensation, headers: [养殖保险赔付], kind: amount}
"""


def _renamed(text: str) -> str:
    for old, new in RENAMES:
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def invented(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("invented")
    pack = root / "rules" / "invented-2023"
    pack.mkdir(parents=True)
    for file in HEBEI.glob("*.yaml"):
        (pack / file.name).write_text(_renamed(file.read_text(encoding="utf-8")), encoding="utf-8")
    sources = root / "sources"
    sources.mkdir()
    (sources / "livestock.yaml").write_text(SOURCE, encoding="utf-8")
    drop = root / "drop"
    shutil.copytree(DEMO, drop, ignore=shutil.ignore_patterns("意外伤害.csv", "*.py"))
    accidents = (DEMO / "意外伤害.csv").read_text(encoding="utf-8").splitlines()
    header = "死亡登记编号,畜主身份证号,死亡日期,牲畜损失金额,养殖保险赔付"
    assert accidents[0] == "事故编号,伤者身份证号,事故日期,损失金额,已获赔偿"
    (drop / "牲畜死亡登记.csv").write_text("\n".join([header, *accidents[1:]]) + "\n", encoding="utf-8")
    return {"pack": pack, "sources": sources, "drop": drop, "rules": pack.parent}


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def test_the_code_never_names_the_invented_cause_or_group() -> None:
    for file in (REPO / "src" / "fangpin").rglob("*"):
        if file.is_file() and file.suffix in {".py", ".html", ".yaml", ".js"}:
            text = file.read_text(encoding="utf-8")
            assert "livestock" not in text and "relief_watch" not in text, file


def test_an_invented_pack_screens_stores_replays_and_reports_like_the_pack_it_renames(
    invented: dict[str, Path], database_url: str, tmp_path: Path
) -> None:
    pack = load_pack(invented["pack"])
    assert pack.cause_ids == ("illness", "schooling", "disaster", "livestock")
    assert pack.people_labels.groups["relief_watch"] == "重点关注户"

    ours = screen(ScreenRequest(drop=invented["drop"], year=2023, county="130434", database_url=database_url,
                                pack_dir=invented["pack"], sources_dir=invented["sources"],
                                out_dir=tmp_path / "ours", runs_dir=tmp_path))
    theirs = screen(ScreenRequest(drop=DEMO, year=2023, county="130434", database_url=f"sqlite:///{tmp_path}/h.db",
                                  pack_dir=HEBEI, out_dir=tmp_path / "theirs", runs_dir=tmp_path))
    assert ours.out_dir is not None and theirs.out_dir is not None

    # decided: the same figures under the new names, in the pack's order
    mine, hers = _rows(ours.out_dir / "decisions.csv"), _rows(theirs.out_dir / "decisions.csv")
    assert list(mine[0]) == ["household_id", "group", "outcome", "per_capita_income", "illness", "schooling",
                             "disaster", "livestock", "payout", "fee", "pack"]
    assert [{_renamed(k): _renamed(v) for k, v in row.items() if k != "pack"} for row in hers] == [
        {k: v for k, v in row.items() if k != "pack"} for row in mine]
    assert any(row["group"] == "relief_watch" for row in mine)
    assert ours.run["totals"]["livestock"] == theirs.run["totals"]["accident"] != "0.00"
    livestock = next(item for item in ours.run["inputs"] if item["department"] == "livestock_bureau")
    assert livestock["rows_read"] == livestock["used"] + livestock["rejected"] + livestock["skipped"]
    assert livestock["used"] > 0

    # reported: the visit list and the workbook's labels are the pack's
    visits = _rows(ours.out_dir / "visits.csv")
    assert "因畜牧赔付" in visits[0]
    assert "重点关注户" in {row["类别"] for row in visits}

    # stored and replayed: identical under the pack it was decided with
    with session_scope(database_url) as session:
        result = replay_run(session, ours.run["run_id"])
        assert result.identical, result.diff
        assert result.cause_labels["livestock"] == "因畜牧"


@pytest.fixture
def invented_rules(invented: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The invented pack among the packs in force (FANGPIN_RULES_DIR), set before the API starts: a server
    reads its rules folder when it starts."""
    monkeypatch.setenv("FANGPIN_RULES_DIR", str(invented["rules"]))
    return invented


def test_an_invented_pack_decides_a_check_through_the_api_and_replays_it(
    invented_rules: dict[str, Path], api: Api
) -> None:
    document: dict[str, Any] = {
        "household_id": "130434-L001", "year": 2023, "county": "130434", "status": "exited", "members": 3,
        "income": "21000.00", "labour_capacity": True, "housing_secure": True,
        "livestock": [{"id": "L1", "date": "2023-10-03", "loss": "9000.00", "compensation": "1000.00"}],
    }
    response = api.post("/v1/checks", document, who="surveyor")
    assert response.status_code == 201, response.text
    body = response.json()
    decision = body["decision"]
    assert decision["pack"]["id"] == "invented-2023"
    by_cause = {cause["cause"]: cause for cause in decision["causes"]}
    assert by_cause["livestock"]["base"] == "8000.00"
    assert decision["payout"] == by_cause["livestock"]["increment"] != "0.00"

    stored = api.get(f"/v1/decisions/{body['id']}", who="office").json()
    assert stored["amounts"]["livestock"] == decision["payout"]
    assert stored["document"]["livestock"][0]["id"] == "L1"
    with session_scope(api.database_url) as session:
        assert replay_decision(session, body["id"]).identical

    # a cause the pack does not have is refused, naming the field
    refused = api.post("/v1/checks", {**document, "accident": document["livestock"]}, who="surveyor")
    assert refused.status_code == 422
    assert "accident" in json.dumps(refused.json(), ensure_ascii=False)
