"""Least privilege, scopes and the access log through the API, on SQLite and PostgreSQL: what each role sees
of every route that returns personal data (fangpin.privacy), a scoped village clerk walking the decision ids,
and a row in the access log for every read route of the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fangpin.claims import ROLES
from fangpin.db.session import session_scope
from fangpin.services import access_log, jobs
from fangpin.services.users import add_user
from tests.api.conftest import Api
from tests.support import COUNTY, OTHER_COUNTY, document

FULL, WITHHELD, MASKED, REFUSED = "full", "withheld", "masked", 403
# role × route: what the role gets of the stored document (GET /v1/decisions/{id}) and of the name of
# whoever raised an objection during publicity (GET /v1/claims/{id}); another county's users: 403.
EXPECTED: dict[str, dict[str, Any]] = {
    "office": {"decision": FULL, "claim": FULL, "claims": 200},
    "surveyor": {"decision": FULL, "claim": FULL, "claims": 200},
    "village": {"decision": WITHHELD, "claim": FULL, "claims": 200},
    "department": {"decision": WITHHELD, "claim": MASKED, "claims": 200},
    "auditor": {"decision": WITHHELD, "claim": MASKED, "claims": 200},
    **{f"other_{role}": {"decision": REFUSED, "claim": REFUSED, "claims": REFUSED} for role in ROLES},
}


def _sees_decision(api: Api, who: str, decision_id: int) -> str | int:
    response = api.get(f"/v1/decisions/{decision_id}", who=who)
    if response.status_code != 200:
        return response.status_code
    body = response.json()
    assert body["household_id"] == "130434-0001" and body["amounts"]["payout"] == "13000.00"  # facts: everyone
    if body["document"] is None:
        return WITHHELD
    assert body["document"]["head_id"] == "13043419800101001X" and body["document"]["head_name"] == "赵大山"
    return FULL


def _sees_claim(api: Api, who: str, claim_id: int) -> str | int:
    response = api.get(f"/v1/claims/{claim_id}", who=who)
    if response.status_code != 200:
        return response.status_code
    raised_by = response.json()["history"][2]["record"]["objections"][0]["raised_by"]
    return {"neighbour": FULL, "n********": MASKED}[raised_by]


@pytest.mark.parametrize("who", list(EXPECTED))
def test_each_role_sees_personal_data_of_every_api_route_as_the_policy_says(api: Api, who: str) -> None:
    claim = api.claim_at("publicised")

    seen = {"decision": _sees_decision(api, who, claim["decision_id"]),
            "claim": _sees_claim(api, who, claim["id"]),
            "claims": api.get("/v1/claims", who=who, params={"county": COUNTY}).status_code}

    assert seen == EXPECTED[who]


def _scoped_village(api: Api, scope: str) -> str:
    with session_scope(api.database_url) as session:
        api.tokens["clerk"] = add_user(session, "clerk", "village", COUNTY, scope=scope)
    return "clerk"


def test_a_village_clerk_walking_every_decision_id_gets_403_or_a_decision_of_its_village_without_identity(
        api: Api) -> None:
    for number, village in enumerate(["东村", "西村", "东村", "南村", "西村"], start=1):
        api.post("/v1/checks", document(f"130434-{number:04d}", village=village), who="office")
    api.post("/v1/checks", document("130435-0001", county=OTHER_COUNTY), who="other_office")
    clerk = _scoped_village(api, "东代固镇/东村")

    seen = {}
    for decision_id in range(1, 9):
        response = api.get(f"/v1/decisions/{decision_id}", who=clerk)
        assert response.status_code in (200, 403, 404), response.text
        if response.status_code == 200:
            body = response.json()
            assert body["village"] == "东村" and body["document"] is None
            assert "13043419800101001X" not in response.text and "赵大山" not in response.text
        seen[decision_id] = response.status_code

    assert seen == {1: 200, 2: 403, 3: 200, 4: 403, 5: 403, 6: 403, 7: 404, 8: 404}
    with session_scope(api.database_url) as session:
        refused = [row for row in access_log.reads(session, user=clerk) if row.status == 403]
    assert sorted(int(row.object_id or 0) for row in refused) == [2, 4, 5, 6]  # the walk is on record


def test_a_scoped_clerk_lists_and_moves_only_the_claims_of_its_village(api: Api) -> None:
    east = api.claim_at("surveyed", "130434-0001")
    west = api.open_claim("130434-0002", village="西村")
    west = api.advance(west, "surveyed")
    clerk = _scoped_village(api, "东代固镇/东村")

    listed = api.get("/v1/claims", who=clerk).json()
    refused = api.move(west, "publicised", who=clerk)
    read = api.get(f"/v1/claims/{west['id']}", who=clerk)
    moved = api.move(east, "publicised", who=clerk)

    assert [item["household_id"] for item in listed["items"]] == ["130434-0001"] and listed["total"] == 1
    assert refused.status_code == 403 and "不在 clerk 负责的范围(东代固镇/东村)内" in refused.json()["detail"]
    assert read.status_code == 403
    assert moved.status_code == 200, moved.text
    assert api.post("/v1/claims", document("130434-0003", village="西村"), who=clerk).status_code == 403
    assert api.post("/v1/checks", document("130434-0003", village="西村"), who=clerk).status_code == 403
    assert api.post("/v1/claims", document("130434-0004"), who=clerk).status_code == 201


def _filled(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: str(values[match.group(1)]), path)


def test_every_read_route_of_the_openapi_document_leaves_a_row_in_the_access_log(api: Api, tmp_path: Path) -> None:
    claim = api.claim_at("surveyed")
    queued = jobs.enqueue_simulation(api.database_url, county=COUNTY, year=2019, user="office", runs=["r"],
                                     pack="handan-2020", fiscal_input=None, drafts_dir=tmp_path, runs_dir=tmp_path)
    values = {"decision_id": claim["decision_id"], "claim_id": claim["id"], "county": COUNTY, "year": 2019,
              "job_id": queued["id"]}
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    reads = sorted(path for path, operations in paths.items() if "get" in operations and path != "/v1/health")
    assert len(reads) >= 4  # decisions, claims, a claim, the fund

    for path in reads:
        with session_scope(api.database_url) as session:
            before = len(access_log.reads(session, user="office"))
        assert api.get(_filled(path, values), who="office").status_code == 200, path
        with session_scope(api.database_url) as session:
            rows = access_log.reads(session, user="office")
        assert len(rows) > before, path
        assert rows[0].route == f"GET {path}" and rows[0].status == 200 and rows[0].role == "office", path

    with session_scope(api.database_url) as session:
        of_household = {row.kind for row in access_log.reads(session, household_id="130434-0001")}
    assert {"decision", "claim"} <= of_household


def test_a_replay_by_an_auditor_is_recorded_as_a_read_of_the_decision(api: Api) -> None:
    decision_id = api.post("/v1/checks", document(), who="office").json()["id"]

    assert api.post(f"/v1/decisions/{decision_id}/replay", who="auditor").status_code == 200

    with session_scope(api.database_url) as session:
        rows = access_log.reads(session, user="auditor")
    assert [(row.kind, row.object_id, row.household_id) for row in rows] == [
        ("decision", str(decision_id), "130434-0001")]
