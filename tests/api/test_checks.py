"""POST /v1/checks and reading stored decisions, through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from fangpin.db.session import get_engine
from fangpin.labels import field_label
from tests.api.conftest import Api
from tests.support import document


def test_a_check_returns_the_decision_and_stores_it_with_its_facts_and_document(api: Api) -> None:
    response = api.post("/v1/checks", document(), who="surveyor")

    assert response.status_code == 201
    body = response.json()
    decision = body["decision"]
    assert (decision["group"], decision["outcome"], decision["payout"], decision["fee"]) == (
        "edge", "pay", "13000.00", "1950.00")
    assert [rule["id"] for rule in decision["rules"]] == ["edge", "illness_edge"]
    stored = api.get(f"/v1/decisions/{body['id']}").json()
    assert stored["facts"]["per_capita_income"] == "4400.00"
    assert stored["facts"]["illness_base"] == "45000.00"
    assert stored["amounts"] == {"illness": "13000.00", "schooling": "0.00", "disaster": "0.00",
                                 "payout": "13000.00", "fee": "1950.00"}
    assert stored["pack_hash"] == decision["pack"]["hash"]
    assert stored["document"] is None  # the auditor: withheld (fangpin.privacy)
    assert api.get(f"/v1/decisions/{body['id']}", who="office").json()["document"]["household_id"] == "130434-0001"
    assert stored["run_id"] is None and stored["chain"]["seq"] == 1


def test_json_numbers_in_a_document_are_read_exactly_never_as_floats(api: Api) -> None:
    # SPEC section 5, example 2, sent as JSON numbers: 12,345.67 − 5,000 = 7,345.67 × 50 % = 3,672.835 → 3,672.84.
    text = ('{"household_id": "H2", "year": 2019, "county": "130434", "status": "exited", "members": 3, '
            '"income": 13500.00, "labour_capacity": true, "housing_secure": true, '
            '"illness": [{"id": "S1", "date": "2019-05-01", "burden": 12345.67}]}')

    response = api.client.post("/v1/checks", content=text, headers={**api.auth("village"),
                                                                      "Content-Type": "application/json"})

    assert response.status_code == 201, response.text
    decision = response.json()["decision"]
    assert (decision["payout"], decision["fee"]) == ("3672.84", "550.93")
    assert decision["causes"][0]["tiers"][0]["amount"] == "3672.835"


@pytest.mark.parametrize(("change", "field"), [
    ({"members": 0}, "members"),
    ({"members": 5000}, "members"),
    ({"county": "13043"}, "county"),
    ({"status": "rich"}, "status"),
    ({"year": 1800}, "year"),
    ({"year": 2031, "illness": []}, "year"),  # no pack in force
    ({"colour": "red"}, "colour"),
    ({"household_id": "H\u0000"}, "household_id"),
    ({"household_id": "H" * 65}, "household_id"),
    ({"illness": [{"id": "S1", "date": "2018-03-02", "burden": "1.00"}]}, "illness[0].date"),
    ({"illness": [{"id": "S1", "date": "2019-02-30", "burden": "1.00"}]}, "illness[0].date"),
    ({"illness": [{"id": "S1", "date": "2019-03-02", "burden": "-5"}]}, "illness[0].burden"),
    ({"illness": [{"id": "S1", "date": "2019-03-02", "burden": "1.234"}]}, "illness[0].burden"),
    ({"illness": [{"id": "S1", "date": "2019-03-02", "burden": "1e20"}]}, "illness[0].burden"),
    ({"schooling": [{"id": "E1", "date": "2019-09-01", "stage": "幼儿园", "full_time": True}]}, "schooling[0].stage"),
    ({"income": None}, "income"),
])
def test_a_bad_document_is_422_naming_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    data = document(**change)
    if data.get("income") is None:
        del data["income"]

    response = api.post("/v1/checks", data, who="surveyor")

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field
    assert problem["status"] == 422 and problem["title"] == "Invalid request"
    assert field in problem["detail"] or field_label(field) in problem["detail"]  # the path, or its label


def test_a_document_missing_a_required_field_names_it(api: Api) -> None:
    data = document()
    del data["housing_secure"]

    response = api.post("/v1/checks", data, who="surveyor")

    assert (response.status_code, response.json()["field"]) == (422, "housing_secure")


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"", b"[" * 100_000])
def test_a_body_that_is_not_json_is_400(api: Api, body: bytes) -> None:
    response = api.client.post("/v1/checks", content=body, headers={**api.auth("surveyor"),
                                                                      "Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_a_document_that_is_not_a_mapping_is_422(api: Api) -> None:
    response = api.post("/v1/checks", [document()], who="surveyor")

    assert response.status_code == 422 and response.json()["field"] is None


def test_nan_in_a_document_is_422_naming_the_field(api: Api) -> None:
    text = json.dumps(document()).replace('"17600.00"', "NaN")

    response = api.client.post("/v1/checks", content=text, headers=api.auth("surveyor"))

    assert (response.status_code, response.json()["field"]) == (422, "income")


def test_without_a_valid_token_a_check_is_401(api: Api) -> None:
    missing = api.client.post("/v1/checks", json=document())
    wrong = api.client.post("/v1/checks", json=document(), headers={"Authorization": "Bearer nope"})

    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"


def test_an_auditor_may_not_check_a_household(api: Api) -> None:
    response = api.post("/v1/checks", document(), who="auditor")

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("who", ["other_office", "other_surveyor", "other_village", "other_department"])
def test_a_household_of_another_county_may_not_be_checked(api: Api, who: str) -> None:
    assert api.post("/v1/checks", document(), who=who).status_code == 403


def test_a_decision_of_another_county_may_not_be_read(api: Api) -> None:
    decision_id = api.post("/v1/checks", document(), who="surveyor").json()["id"]

    assert api.get(f"/v1/decisions/{decision_id}", who="other_auditor").status_code == 403
    assert api.get(f"/v1/decisions/{decision_id}", who="surveyor").status_code == 200


def test_an_unknown_decision_is_404(api: Api) -> None:
    response = api.get("/v1/decisions/999999")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_an_auditor_replays_a_stored_check_identically(api: Api) -> None:
    decision_id = api.post("/v1/checks", document(), who="surveyor").json()["id"]

    response = api.post(f"/v1/decisions/{decision_id}/replay", who="auditor")

    assert response.status_code == 200, response.text
    replay = response.json()
    assert replay["identical"] is True and replay["differences"] == []
    assert replay["stored_digest"] == replay["replayed_digest"]


@pytest.mark.parametrize("who", ["office", "surveyor", "village", "department", "other_auditor"])
def test_only_an_auditor_of_the_county_replays(api: Api, who: str) -> None:
    decision_id = api.post("/v1/checks", document(), who="surveyor").json()["id"]

    assert api.post(f"/v1/decisions/{decision_id}/replay", who=who).status_code == 403


def test_every_request_that_changes_something_is_logged_with_who_and_when(api: Api) -> None:
    api.post("/v1/checks", document(), who="surveyor")
    api.post("/v1/checks", document(), who="auditor")  # refused: logged too
    api.get("/v1/claims")  # a read: not logged

    with get_engine(api.database_url).connect() as connection:
        rows = connection.execute(sa.text("SELECT who, role, method, path, status, at FROM request_log "
                                          "ORDER BY id")).all()
    assert [tuple(row[:5]) for row in rows] == [("surveyor", "surveyor", "POST", "/v1/checks", 201),
                                                ("auditor", "auditor", "POST", "/v1/checks", 403)]
    assert all(row[5] is not None for row in rows)


def test_tokens_are_stored_only_as_their_sha256(api: Api) -> None:
    with get_engine(api.database_url).connect() as connection:
        stored = connection.execute(sa.text("SELECT token_hash FROM users WHERE name = 'office'")).scalar_one()

    import hashlib

    assert stored == hashlib.sha256(api.tokens["office"].encode()).hexdigest()
    assert stored != api.tokens["office"]
