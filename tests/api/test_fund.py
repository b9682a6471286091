"""The fund (SPEC section 7) through the CLI and HTTP: the source's Handan 2018 line, carry-over, top-up."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from fangpin.claims import Actor
from fangpin.cli import app
from fangpin.db.claims_models import Claim
from fangpin.db.session import session_scope
from fangpin.documents import household_from
from fangpin.services import checks
from tests.api.conftest import Api
from tests.support import document

HANDAN = "130400"


def _paid_claims(database_url: str, county: str, year: int, households: int, total_fen: int) -> None:
    """``households`` claims paid in ``year``, adding up to ``total_fen`` exactly, each fee 15 % half-up."""
    with session_scope(database_url) as session:
        decision_id = checks.check(session, Actor("seed", "surveyor", county),
                                   household_from(document(county=county))).id
        each, extra = divmod(total_fen, households)
        rows = []
        for n in range(households):
            amount = each + (1 if n < extra else 0)
            rows.append({"county": county, "township": None, "village": None, "household_id": f"{county}-{n:05d}",
                         "year": year, "state": "paid", "version": 6, "opened_by": "screening",
                         "decision_id": decision_id, "amount_decided": amount, "amount_paid": amount,
                         "fee": (amount * 15 + 50) // 100, "created_at": dt.datetime(year, 6, 1, tzinfo=dt.UTC)})
        session.execute(insert(Claim), rows)


def _fund(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> dict[str, object]:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    if "--input" in args:
        args = (*args, "--purpose", "县级财政配套资金", "--date", "2019-01-02")
    result = CliRunner().invoke(app, ["fund", "--json", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_the_fund_command_reproduces_the_sources_handan_2018_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _paid_claims(database_url, HANDAN, 2018, 1538, 1_515_610_000)

    line = _fund(monkeypatch, database_url, "--county", HANDAN, "--year", "2018", "--input", "36105000.00")

    assert line["opening_balance"] == "0.00"
    assert line["fiscal_input"] == "36105000.00"
    assert (line["households_paid"], line["payouts"]) == (1538, "15156100.00")
    assert line["carry_over"] == "20948900.00"
    assert line["top_up"] == "0.00"
    assert line["fees_paid_by"] == "fiscal budget"  # the fee (about 2,273,415) is not drawn from the fund


def test_the_2018_carry_over_opens_2019_and_the_new_money_makes_the_sources_32187000(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _paid_claims(database_url, HANDAN, 2018, 1538, 1_515_610_000)
    _fund(monkeypatch, database_url, "--county", HANDAN, "--year", "2018", "--input", "36105000.00")

    line = _fund(monkeypatch, database_url, "--county", HANDAN, "--year", "2019", "--input", "11238100.00")

    assert (line["opening_balance"], line["available"]) == ("20948900.00", "32187000.00")


def test_a_shortfall_is_topped_up_by_the_budget_and_nothing_carries_over(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _paid_claims(database_url, HANDAN, 2019, 3, 1_000_000)  # 10,000.00 paid

    line = _fund(monkeypatch, database_url, "--county", HANDAN, "--year", "2019", "--input", "4000")
    following = _fund(monkeypatch, database_url, "--county", HANDAN, "--year", "2020")

    assert (line["payouts"], line["carry_over"], line["top_up"]) == ("10000.00", "0.00", "6000.00")
    assert (following["opening_balance"], following["available"]) == ("0.00", "0.00")


@pytest.mark.parametrize("amount", ["1.001", "-5", "lots"])
def test_a_bad_fiscal_input_in_the_cli_exits_2_naming_the_amount(
    database_url: str, monkeypatch: pytest.MonkeyPatch, amount: str
) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)

    result = CliRunner().invoke(app, ["fund", "--county", HANDAN, "--year", "2018", "--input", amount])

    assert result.exit_code == 2
    assert "amount" in result.output


def test_the_office_records_fiscal_input_and_everyone_of_the_county_reads_the_fund(api: Api) -> None:
    first = api.post("/v1/fund/130434/2019/inputs", {"amount": "100000.00"}, who="office")
    second = api.client.post("/v1/fund/130434/2019/inputs", content='{"amount": 2500.10}',
                             headers=api.auth("office"))
    api.claim_at("paid")

    assert first.status_code == second.status_code == 201
    assert second.json()["fiscal_input"] == "102500.10"
    for role in ("office", "surveyor", "village", "department", "auditor"):
        fund = api.get("/v1/fund/130434/2019", who=role).json()
        assert fund == {"county": "130434", "year": 2019, "opening_balance": "0.00", "fiscal_input": "102500.10",
                        "available": "102500.10", "payouts": "13000.00", "households_paid": 1, "claims_paid": 1,
                        "fees": "1950.00", "fees_paid_by": "fiscal budget", "carry_over": "89500.10",
                        "top_up": "0.00"}


@pytest.mark.parametrize("who", ["surveyor", "village", "department", "auditor", "other_office"])
def test_only_the_office_of_the_county_records_fiscal_input(api: Api, who: str) -> None:
    assert api.post("/v1/fund/130434/2019/inputs", {"amount": "1.00"}, who=who).status_code == 403


def test_the_fund_of_another_county_is_not_shown(api: Api) -> None:
    assert api.get("/v1/fund/130435/2019").status_code == 403


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/fund/130434/2019/inputs", {"amount": "0.001"}, "amount"),
    ("/v1/fund/130434/2019/inputs", {"amount": "0"}, "amount"),
    ("/v1/fund/130434/2019/inputs", {}, "amount"),
    ("/v1/fund/1304/2019/inputs", {"amount": "1"}, "county"),
    ("/v1/fund/130434/1066/inputs", {"amount": "1"}, "year"),
])
def test_a_bad_fiscal_input_is_422_naming_the_field(api: Api, path: str, body: dict[str, str], field: str) -> None:
    response = api.post(path, body, who="office")

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_the_cli_records_day_and_purpose_warns_of_a_repeated_amount_and_corrects_by_a_new_input(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    fund = ["fund", "--county", "130434", "--year", "2019"]
    runner = CliRunner()

    first = runner.invoke(app, [*fund, "--input", "100万", "--date", "2019-03-01", "--purpose", "县级配套"])
    unnamed = runner.invoke(app, [*fund, "--input", "5000"])
    repeated = runner.invoke(app, [*fund, "--input", "1,000,000", "--date", "2019-04-01", "--purpose", "省级补助"])
    confirmed = runner.invoke(app, [*fund, "--input", "1,000,000", "--date", "2019-04-01", "--purpose", "省级补助",
                                    "--yes"])
    corrected = runner.invoke(app, [*fund, "--input", "900,000", "--purpose", "预算调整", "--corrects", "1",
                                    "--json"])

    assert first.exit_code == 0, first.output
    assert "1,000,000.00" in first.stderr and "壹佰万元整" in first.stderr and "魏县 (130434)" in first.stdout
    assert unnamed.exit_code == 2 and "purpose" in unnamed.stderr
    assert repeated.exit_code == 1 and "#1" in repeated.stderr and "--yes" in repeated.stderr
    assert confirmed.exit_code == 0, confirmed.output
    assert corrected.exit_code == 0, corrected.output
    assert "-100,000.00" in corrected.stderr
    assert json.loads(corrected.stdout)["fiscal_input"] == "1900000.00"  # 1,000,000 → 900,000, plus 1,000,000
    listing = runner.invoke(app, fund)
    assert "#3" in listing.stdout and "-100,000.00" in listing.stdout and "县级配套" in listing.stdout
    assert "900,000.00" in listing.stdout  # what input #1 stands at now


def test_the_fund_inputs_table_is_what_the_migrations_make_it(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fangpin.db.models import Base
    from fangpin.db.session import get_engine

    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert [diff for diff in differences if "fund_inputs" in repr(diff)] == []
