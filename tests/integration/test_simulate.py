"""`fangpin simulate`: the impact of a draft pack on the stored demo run, on SQLite and PostgreSQL, its figures
checked against a computation of their own (docs/policy.md written out in tests/support.py), not the engine's."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fangpin.cli import app
from fangpin.db.session import get_engine, session_scope
from fangpin.packs import load_pack
from fangpin.reports.impact import write_impact
from fangpin.services import jobs
from fangpin.services.drafts import store_draft
from fangpin.services.replay import replay_run
from fangpin.services.screening import ScreenRequest, screen
from fangpin.services.simulate import Simulation, simulate
from tests.api.test_simulations import draft_zip
from tests.integration.drops import base_drop, settlement
from tests.support import (
    COUNTY,
    DEMO,
    DISASTER_TIERS,
    ILLNESS_TIERS,
    REPO,
    SCHOOLING_TIERS,
    document,
    half_up,
    tiered,
)

PACK_2020 = REPO / "rules" / "handan-2020"
runner = CliRunner()


@pytest.fixture
def demo_run(database_url: str, tmp_path: Path) -> tuple[str, str]:
    result = screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=database_url,
                                  runs_dir=tmp_path / "runs"))
    return database_url, str(result.run["run_id"])


def _simulate(database_url: str, run_id: str, pack: Path, **options: Any) -> Simulation:
    with session_scope(database_url) as session:
        return simulate(session, [run_id], pack, **options)


def _stored(database_url: str, run_id: str) -> list[dict[str, Any]]:
    with get_engine(database_url).connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT household_id, township, village, status, per_capita_income, labour_capacity, housing_secure, "
            "bases, outcome, payout FROM decisions WHERE run_id = :run"), {"run": run_id}).mappings().all()
    return [dict(row) for row in rows]


def _owed(row: dict[str, Any], *, ceiling: int, illness_edge: int = 20000) -> dict[str, int]:
    """docs/policy.md sections 1–3 by hand for a stored household, under a ceiling (yuan) and an edge
    deductible: the amount per cause in fen (nothing paid before: the demo is the year's first drop)."""
    zero = {"illness": 0, "schooling": 0, "disaster": 0}
    if row["status"] == "registered_poor" or row["per_capita_income"] >= ceiling * 100:
        return zero
    if not row["labour_capacity"] and row["housing_secure"]:
        return zero
    bases = {cause: Decimal(value) / 100 for cause, value in json.loads(row["bases"]).items()}
    exited = row["status"] == "exited"
    terms = {"illness": (Decimal(5000 if exited else illness_edge), ILLNESS_TIERS, Decimal(100000)),
             "schooling": (Decimal(8000), SCHOOLING_TIERS, Decimal(30000)),
             "disaster": (Decimal(10000), DISASTER_TIERS, Decimal(50000))}
    owed = dict(zero)
    for cause, (deductible, tiers, cap) in terms.items():
        if bases[cause] > deductible:
            owed[cause] = int(half_up(min(tiered(bases[cause] - deductible, tiers), cap)) * 100)
    return owed


def test_the_2020_line_moves_exactly_the_households_between_the_two_ceilings(demo_run: tuple[str, str]) -> None:
    database_url, run_id = demo_run
    stored = _stored(database_url, run_id)
    between = {row["household_id"] for row in stored if row["status"] != "registered_poor"
               and 480000 <= row["per_capita_income"] < 600000}
    gained = {row["household_id"]: sum(_owed(row, ceiling=6000).values()) for row in stored
              if row["household_id"] in between}

    result = _simulate(database_url, run_id, PACK_2020)

    impact = result.impact
    changed = set(result.diff.filter(pl.col("cause") == "payout")["household_id"].to_list())
    assert changed == between and len(between) > 0
    totals = impact["totals"]
    assert totals["households_changed"] == len(between)
    assert totals["payout_before"] == sum(row["payout"] for row in stored) == 17655008
    assert totals["payout_difference"] == sum(gained.values())
    assert totals["entering"] == sum(1 for amount in gained.values() if amount > 0)
    assert totals["leaving"] == 0
    for row in impact["attribution"]["by_parameter"]:
        assert row["parameter"] in {"poverty_line", "income_ceiling"}
        assert row["households"] == len(between)
    assert {row["parameter"] for row in impact["attribution"]["by_parameter"]} == {"poverty_line", "income_ceiling"}
    assert impact["parameters_changed"]["poverty_line"] == {"before": "3200.00", "after": "4000.00",
                                                            "clause": "二(一)"}


def test_flows_townships_villages_bands_and_attribution_add_up_to_the_replays_totals(
        demo_run: tuple[str, str]) -> None:
    database_url, run_id = demo_run
    with session_scope(database_url) as session:
        replay_totals = replay_run(session, run_id, PACK_2020).totals()

    impact = _simulate(database_url, run_id, PACK_2020).impact

    totals = impact["totals"]
    for key in ("households", "households_changed", "payout_before", "payout_after", "fee_before", "fee_after",
                "illness_after", "schooling_after", "disaster_after"):
        assert totals[key] == replay_totals[key], key
    difference = totals["payout_after"] - totals["payout_before"]
    assert totals["households"] == totals["households_changed"] + totals["households_unchanged"]
    assert totals["households"] == totals["paid_more"] + totals["paid_less"] + totals["paid_same"]
    assert sum(flow["households"] for flow in impact["flows"]) == totals["households"]
    assert sum(flow["payout_difference"] for flow in impact["flows"]) == difference
    assert sum(flow["households"] for flow in impact["flows"] if flow["outcome_before"] != "pay"
               and flow["outcome_after"] == "pay") == totals["entering"]
    assert sum(town["households"] for town in impact["by_township"]) == totals["households"]
    assert sum(town["payout_difference"] for town in impact["by_township"]) == difference
    assert sum(town["fee_difference"] for town in impact["by_township"]) == totals["fee_difference"]
    for town in impact["by_township"]:
        assert sum(village["payout_after"] for village in town["villages"]) == town["payout_after"]
        assert sum(village["households"] for village in town["villages"]) == town["households"]
    assert sum(band["households"] for band in impact["bands"]) == totals["households"]
    assert sum(band["payout_difference"] for band in impact["bands"]) == difference
    assert next(band for band in impact["bands"] if band["band"] == "same")["households"] == totals["paid_same"]
    assert sum(item["payout_difference"] for item in impact["attribution"]["by_combination"]) == difference
    assert sum(item["households"] for item in impact["attribution"]["by_combination"]) == totals["households_changed"]
    before, after = impact["fund"]
    assert (before["pack"], after["pack"]) == ("before", "after")
    assert (before["payouts"], after["payouts"]) == (totals["payout_before"], totals["payout_after"])
    assert after["balance"] == after["available"] - totals["payout_after"]


def _draft(tmp_path: Path, illness_edge: str) -> Path:
    """A copy of handan-2019 whose only change is the edge households' illness deductible."""
    draft = tmp_path / "draft-edge"
    shutil.copytree(REPO / "rules" / "handan-2019", draft, ignore=shutil.ignore_patterns("cases"))
    meta = (draft / "pack.yaml").read_text("utf-8")
    (draft / "pack.yaml").write_text(meta.replace("id: handan-2019", "id: draft-edge", 1), "utf-8")
    text = (draft / "parameters.yaml").read_text("utf-8")
    head, _, rest = text.partition("illness_deductible_edge:")
    old = 'value: "20000.00"'
    assert old in rest.split("\n\n")[0]
    rest = rest.replace(old, f'value: "{illness_edge}"', 1)
    (draft / "parameters.yaml").write_text(head + "illness_deductible_edge:" + rest, "utf-8")
    return draft


def test_a_lower_edge_illness_deductible_moves_only_edge_illness_amounts(demo_run: tuple[str, str],
                                                                         tmp_path: Path) -> None:
    database_url, run_id = demo_run
    stored = _stored(database_url, run_id)
    expected = {row["household_id"]: _owed(row, ceiling=4800, illness_edge=15000)["illness"]
                - _owed(row, ceiling=4800)["illness"] for row in stored}

    result = _simulate(database_url, run_id, _draft(tmp_path, "15000.00"))

    impact = result.impact
    assert impact["totals"]["illness_difference"] == sum(expected.values()) > 0
    assert impact["totals"]["schooling_difference"] == impact["totals"]["disaster_difference"] == 0
    assert impact["totals"]["payout_difference"] == impact["totals"]["illness_difference"]
    assert set(result.diff["cause"].unique().to_list()) <= {"illness", "payout", "fee"}
    moved = {row["household_id"]: row["difference"] for row in result.diff.filter(pl.col("cause") == "illness")
             .iter_rows(named=True)}
    assert moved == {household: change for household, change in expected.items() if change}
    groups = set(result.diff["group_before"].to_list()) | set(result.diff["group_after"].to_list())
    assert groups == {"edge"}
    assert [row["parameter"] for row in impact["attribution"]["by_parameter"]] == ["illness_deductible_edge"]
    assert list(impact["parameters_changed"]) == ["illness_deductible_edge"]


def test_the_same_pack_changes_nothing(demo_run: tuple[str, str]) -> None:
    database_url, run_id = demo_run

    impact = _simulate(database_url, run_id, REPO / "rules" / "handan-2019").impact

    assert impact["totals"]["households_changed"] == 0 and impact["totals"]["payout_difference"] == 0
    assert impact["attribution"]["by_parameter"] == [] and impact["flows"]


def test_the_workbook_reads_back_as_the_report(demo_run: tuple[str, str], tmp_path: Path) -> None:
    database_url, run_id = demo_run
    result = _simulate(database_url, run_id, PACK_2020)

    write_impact(tmp_path / "out", result.impact, result.diff, result.cause_labels)

    path = tmp_path / "out" / "impact.xlsx"
    towns = pl.read_excel(path, sheet_name="乡镇", engine="calamine")
    assert towns["乡镇"].to_list() == [town["township"] for town in result.impact["by_township"]]
    assert [round(value * 100) for value in towns["赔付差额"].to_list()] == [
        town["payout_difference"] for town in result.impact["by_township"]]
    summary = dict(pl.read_excel(path, sheet_name="汇总", engine="calamine", schema_overrides={"内容": pl.String})
                   .iter_rows())
    assert Decimal(summary["赔付差额"]) == Decimal(result.impact["totals"]["payout_difference"]) / 100
    attribution = pl.read_excel(path, sheet_name="参数归因", engine="calamine")
    assert set(attribution["参数"].to_list()) == {"poverty_line", "income_ceiling"}
    assert set(pl.read_excel(path, sheet_id=0, engine="calamine")) >= {
        "汇总", "流向", "乡镇", "村", "变化分档", "基金", "参数归因", "规则归因", "差异明细"}
    written = json.loads((tmp_path / "out" / "impact.json").read_text("utf-8"))
    assert set(written) >= {"flows", "by_township", "bands", "fund", "attribution", "totals"}


def test_a_formula_in_a_township_name_is_written_as_text(demo_run: tuple[str, str], tmp_path: Path) -> None:
    database_url, run_id = demo_run
    with get_engine(database_url).begin() as connection:
        connection.execute(sa.text("UPDATE decisions SET township = '=HYPERLINK(\"http://x\")' WHERE run_id = :run"),
                           {"run": run_id})
    result = _simulate(database_url, run_id, PACK_2020)

    write_impact(tmp_path / "out", result.impact, result.diff, result.cause_labels)

    towns = pl.read_excel(tmp_path / "out" / "impact.xlsx", sheet_name="乡镇", engine="calamine")
    assert towns["乡镇"].to_list() == ['=HYPERLINK("http://x")']


def test_the_cli_writes_the_report_and_assumes_a_fiscal_input(demo_run: tuple[str, str], tmp_path: Path) -> None:
    database_url, run_id = demo_run
    env = {"FANGPIN_DATABASE_URL": database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs"), "COLUMNS": "160"}

    result = runner.invoke(app, ["simulate", "--run", run_id, "--pack", str(PACK_2020), "--out",
                                 str(tmp_path / "out"), "--fund-input", "200000.00"], env=env)

    assert result.exit_code == 0, result.output
    assert "34516.40" in result.stdout and "income_ceiling" in result.stdout
    fund = json.loads((tmp_path / "out" / "impact.json").read_text("utf-8"))["fund"]
    assert [line["top_up"] for line in fund] == [0, 1106648]  # 211,066.48 owed against 200,000.00
    assert [line["carry_over"] for line in fund] == [2344992, 0]
    missing = runner.invoke(app, ["simulate", "--run", "nope", "--pack", str(PACK_2020)], env=env)
    assert missing.exit_code == 2 and "没有运行 nope" in missing.output
    broken = runner.invoke(app, ["simulate", "--run", run_id, "--pack", str(tmp_path)], env=env)
    assert broken.exit_code == 3


def test_two_drops_of_a_year_are_simulated_together_each_decision_once(database_url: str, tmp_path: Path) -> None:
    march = [settlement("S1", 1, "2019-03-15", "30000.00")]
    august = [*march, settlement("S2", 2, "2019-08-20", "40000.00")]  # H2: above the 2019 ceiling, below 2020's
    run_ids = [str(screen(ScreenRequest(drop=base_drop(tmp_path / name, rows), year=2019, county=COUNTY,
                                        database_url=database_url, runs_dir=tmp_path / "runs")).run["run_id"])
               for name, rows in (("march", march), ("august", august))]
    single = [_simulate(database_url, run_id, PACK_2020).impact["totals"] for run_id in run_ids]

    with session_scope(database_url) as session:
        both = simulate(session, [*run_ids, run_ids[0]], PACK_2020).impact

    totals = both["totals"]
    assert both["runs"] == run_ids
    for key in ("households", "households_changed", "payout_before", "payout_after", "entering"):
        assert totals[key] == single[0][key] + single[1][key], key
    assert totals["entering"] == 1  # H2 under the 2020 line, in the second drop
    assert sum(town["payout_difference"] for town in both["by_township"]) == totals["payout_difference"]


def test_a_stored_draft_is_refused_for_checking_a_household(tmp_path: Path) -> None:
    draft = store_draft(draft_zip(), tmp_path / "drafts", "office")
    household = tmp_path / "household.yaml"
    household.write_text(json.dumps(document()), "utf-8")

    result = runner.invoke(app, ["check", str(household), "--pack", str(draft.directory)])

    assert result.exit_code == 3 and "draft pack" in result.output
    assert runner.invoke(app, ["check", str(household)]).exit_code == 0


def test_a_stored_draft_keeps_the_labels_of_the_pack_it_extends(tmp_path: Path) -> None:
    """The stored draft is the resolved pack (no ``extends`` left): the parameters' labels it took from the
    shipped pack at upload are kept beside it, so the job page names them in Chinese."""
    draft = store_draft(draft_zip(), tmp_path / "drafts", "office")

    named = load_pack(draft.directory).people_labels.parameters

    assert named["illness_deductible_edge"] == "因病起付线(非贫低收入户)"
    assert load_pack(draft.directory).hash == draft.hash  # labels.yaml is not hashed


def test_a_simulation_queued_as_a_job_gives_the_same_report_as_simulating_at_once(demo_run: tuple[str, str],
                                                                                    tmp_path: Path) -> None:
    """The worker runs a queued simulation (``services.simulate.simulate_job``): its report, kept in the job,
    is the one ``simulate`` gives (through JSON: what the console and the API read back), its stages done."""
    database_url, run_id = demo_run
    job = jobs.enqueue_simulation(database_url, county=COUNTY, year=2019, user="office", runs=[run_id],
                                  pack="handan-2020", fiscal_input="100000.00", drafts_dir=tmp_path / "drafts",
                                  runs_dir=tmp_path / "runs")
    assert job["state"] == "queued" and jobs.result_of(database_url, job["id"]) is None

    assert jobs.Worker(database_url).run_one()

    done = jobs.get(database_url, job["id"])
    assert done is not None and done["state"] == "done", done
    assert done["stages"] == {"replay": {"done": 1, "total": 1}, "impact": {"done": 1, "total": 1}}
    expected = _simulate(database_url, run_id, PACK_2020, fiscal_input=10_000_000).impact
    assert jobs.result_of(database_url, job["id"]) == json.loads(json.dumps(expected))
    assert expected["totals"]["payout_difference"] == 3451640
    assert expected["fund"][0]["fiscal_input"] == 10_000_000


def test_a_queued_simulation_of_a_draft_broken_on_disk_fails_with_a_chinese_message(demo_run: tuple[str, str],
                                                                                     tmp_path: Path) -> None:
    database_url, run_id = demo_run
    draft = store_draft(draft_zip(), tmp_path / "drafts", "office")
    job = jobs.enqueue_simulation(database_url, county=COUNTY, year=2019, user="office", runs=[run_id],
                                  pack=draft.hash, fiscal_input=None, drafts_dir=tmp_path / "drafts",
                                  runs_dir=tmp_path / "runs")
    parameters = draft.directory / "parameters.yaml"
    parameters.write_text(parameters.read_text("utf-8").replace('"15000.00"', '"lots"'), "utf-8")

    assert jobs.Worker(database_url).run_one()

    failed = jobs.get(database_url, job["id"])
    assert failed is not None and failed["state"] == "failed"
    assert failed["error"].startswith(f"规则包 {draft.hash[:12]} 无法载入") and "parameters.yaml" in failed["error"]
    assert jobs.result_of(database_url, job["id"]) is None
