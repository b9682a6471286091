"""schemathesis against the published OpenAPI, through the ASGI app on both databases: whatever the schema
allows it to send (a few examples per operation, no deadline), the answer is never a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from fangpin.api.main import build_app
from tests.api.conftest import Api
from tests.support import document

# Generated examples only (fuzzing): the coverage phase enumerates every boundary of every field, hundreds of
# requests for the household document alone, and would take minutes.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(build_app().openapi(), config=CONFIG)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_request_the_schema_allows_gets_a_server_error(case: schemathesis.Case, api: Api) -> None:
    if not api.get("/v1/claims").json()["total"]:  # a claim (id 1) and decisions (ids 1, 2) to find
        api.post("/v1/claims", document(), who="office")

    response = case.call(app=api.client.app, headers=api.auth("office"))

    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
