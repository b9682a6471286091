"""GET /v1/claims: filters and pages; claims opened from a screening run's `pay` decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from fangpin.services.screening import ScreenRequest, screen
from tests.api.conftest import Api
from tests.integration.drops import base_drop, settlement


def _five_claims(api: Api) -> list[dict[str, object]]:
    claims = [api.open_claim(f"130434-000{n}", township="东代固镇" if n < 4 else "柴堡镇", village=f"村{n % 2}")
              for n in range(1, 6)]
    api.advance(claims[0], "surveyed")
    return claims


def test_claims_are_listed_oldest_first_a_page_at_a_time(api: Api) -> None:
    ids = [claim["id"] for claim in _five_claims(api)]

    pages = [api.get("/v1/claims", params={"limit": 2, "offset": offset}).json() for offset in (0, 2, 4, 6)]

    assert [[item["id"] for item in page["items"]] for page in pages] == [ids[:2], ids[2:4], ids[4:], []]
    assert {page["total"] for page in pages} == {5}
    assert (pages[1]["limit"], pages[1]["offset"]) == (2, 2)
    assert "history" not in pages[0]["items"][0]


@pytest.mark.parametrize(("params", "households"), [
    ({"state": "surveyed"}, ["130434-0001"]),
    ({"state": "opened"}, ["130434-0002", "130434-0003", "130434-0004", "130434-0005"]),
    ({"township": "柴堡镇"}, ["130434-0004", "130434-0005"]),
    ({"township": "东代固镇", "village": "村1"}, ["130434-0001", "130434-0003"]),
    ({"year": 2019, "county": "130434"}, ["130434-0001", "130434-0002", "130434-0003", "130434-0004",
                                          "130434-0005"]),
    ({"year": 2020}, []),
])
def test_claims_are_filtered_by_place_state_and_year(api: Api, params: dict[str, object], households: list[str]
                                                     ) -> None:
    _five_claims(api)

    page = api.get("/v1/claims", params=params).json()

    assert [item["household_id"] for item in page["items"]] == households
    assert page["total"] == len(households)


def test_claims_of_another_county_are_not_listed(api: Api) -> None:
    _five_claims(api)

    assert api.get("/v1/claims", params={"county": "130435"}).status_code == 403
    assert api.get("/v1/claims", who="other_auditor").json()["total"] == 0


@pytest.mark.parametrize(("params", "field"), [
    ({"state": "lost"}, "state"), ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset"),
    ({"county": "13"}, "county"), ({"year": "soon"}, "year"),
])
def test_bad_filters_are_422_naming_the_parameter(api: Api, params: dict[str, object], field: str) -> None:
    response = api.get("/v1/claims", params=params)

    assert response.status_code == 422
    assert response.json()["field"] == field


def _run(api: Api, tmp_path: Path) -> str:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])  # H1 is paid 5,000.00
    request = ScreenRequest(drop=drop, year=2019, county="130434", database_url=api.database_url,
                            runs_dir=tmp_path / "runs")
    return str(screen(request).run["run_id"])


def test_the_office_opens_claims_from_a_screening_runs_pay_decisions_once(api: Api, tmp_path: Path) -> None:
    run_id = _run(api, tmp_path)

    first = api.post("/v1/claims/from-screening", {"run_id": run_id}, who="office")
    again = api.post("/v1/claims/from-screening", {"run_id": run_id}, who="office")

    assert first.status_code == 201, first.text
    opened = first.json()["opened"]
    assert [(c["household_id"], c["opened_by"], c["state"], c["township"]) for c in opened] == [
        ("H1", "screening", "opened", "东代固镇")]
    decision = api.get(f"/v1/decisions/{opened[0]['decision_id']}").json()
    assert (decision["run_id"], decision["amounts"]["payout"]) == (run_id, "5000.00")
    assert again.json()["opened"] == [] and [s["household_id"] for s in again.json()["skipped"]] == ["H1"]
    claim = api.advance(opened[0], "surveyed", verified={"illness": "30000.00", "schooling": "0", "disaster": "0"})
    claim = api.advance(claim, "publicised")
    claim = api.advance(claim, "cross_checked")
    claim = api.advance(claim, "filed")
    assert claim["amount_decided"] == "5000.00"


@pytest.mark.parametrize(("who", "status"), [("surveyor", 403), ("village", 403), ("other_office", 403)])
def test_only_the_office_of_the_runs_county_opens_claims_from_screening(
    api: Api, tmp_path: Path, who: str, status: int
) -> None:
    run_id = _run(api, tmp_path)

    assert api.post("/v1/claims/from-screening", {"run_id": run_id}, who=who).status_code == status


def test_claims_from_an_unknown_run_are_404(api: Api) -> None:
    assert api.post("/v1/claims/from-screening", {"run_id": "no-such-run"}, who="office").status_code == 404
    missing = api.post("/v1/claims/from-screening", {}, who="office")
    assert (missing.status_code, missing.json()["field"]) == (422, "run_id")
