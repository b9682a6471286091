"""`fangpin users add --scope` and `fangpin audit reads`, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fangpin.cli import app
from fangpin.db.session import get_engine
from tests.api.conftest import Api
from tests.support import document


def test_users_add_stores_a_scope_and_refuses_a_malformed_one(database_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)

    added = CliRunner().invoke(app, ["users", "add", "村官", "--role", "village", "--county", "130434",
                                     "--scope", " 东代固镇 / 东村 "])
    refused = CliRunner().invoke(app, ["users", "add", "x", "--role", "village", "--county", "130434",
                                       "--scope", "/东村"])

    assert added.exit_code == 0, added.output
    assert "scope" in added.output
    with get_engine(database_url).connect() as connection:
        assert connection.execute(sa.text("SELECT scope FROM users")).scalar_one() == "东代固镇/东村"
    assert refused.exit_code == 2 and "scope" in refused.output and "township/village" in refused.output


def test_audit_reads_lists_who_read_a_household_and_what_a_user_read(api: Api,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", api.database_url)
    decision_id = api.post("/v1/checks", document(), who="office").json()["id"]
    other = api.post("/v1/checks", document("130434-0002"), who="office").json()["id"]
    api.get(f"/v1/decisions/{decision_id}", who="village")
    api.get(f"/v1/decisions/{other}", who="department")
    api.get("/v1/decisions/999", who="village")

    household = CliRunner().invoke(app, ["audit", "reads", "--household", "130434-0001"])
    user = CliRunner().invoke(app, ["audit", "reads", "--user", "village"])
    neither = CliRunner().invoke(app, ["audit", "reads"])

    assert household.exit_code == 0, household.output
    lines = [line for line in household.stdout.splitlines() if "│" in line and "130434-0001" in line]
    assert len(lines) == 1 and "village" in lines[0] and "decision" in lines[0] and "200" in lines[0]
    assert "department" not in household.stdout and "1 read(s)" in household.stdout
    assert user.exit_code == 0 and "2 read(s)" in user.stdout
    assert "/v1/decisions/{decision_id}" in user.stdout and "404" in user.stdout
    assert neither.exit_code == 2 and "--household" in neither.output
