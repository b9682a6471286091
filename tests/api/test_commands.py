"""`fangpin users add|list|disable|enable|rotate` and `fangpin serve`."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fangpin.cli import app
from fangpin.db.session import get_engine
from fangpin.services import jobs
from tests.support import DEMO, document


def test_users_add_prints_a_token_once_and_stores_only_its_hash(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)

    result = CliRunner().invoke(app, ["users", "add", "王芳", "--role", "surveyor", "--county", "130434"])

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token) >= 40
    with get_engine(database_url).connect() as connection:
        row = connection.execute(sa.text("SELECT name, role, county, token_hash FROM users")).one()
    assert tuple(row) == ("王芳", "surveyor", "130434", hashlib.sha256(token.encode()).hexdigest())


@pytest.mark.parametrize(("args", "message"), [
    (["users", "add", "x", "--role", "mayor", "--county", "130434"], "role"),
    (["users", "add", "x", "--role", "office", "--county", "13"], "county"),
])
def test_users_add_refuses_an_unknown_role_or_a_bad_county(
    database_url: str, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2 and message in result.output


def test_a_second_user_of_the_same_name_is_refused(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    CliRunner().invoke(app, ["users", "add", "li", "--role", "office", "--county", "130434"])

    result = CliRunner().invoke(app, ["users", "add", "li", "--role", "office", "--county", "130434"])

    assert result.exit_code == 2 and "已有名为 'li' 的用户:请换一个用户名" in result.output


def _add(name: str, role: str = "office") -> str:
    result = CliRunner().invoke(app, ["users", "add", name, "--role", role, "--county", "130434"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_users_list_shows_each_user_s_role_county_dates_and_state_but_never_a_token(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    tokens = [_add("王芳", "surveyor"), _add("li")]
    assert CliRunner().invoke(app, ["users", "disable", "li"]).exit_code == 0

    result = CliRunner().invoke(app, ["users", "list"])

    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:6] == ["用户名", "name", "角色", "role", "县(区)", "county"]
    assert [row.split()[:4] for row in rows] == [["li", "防贫办", "office", "130434"],
                                                  ["王芳", "保险公司查勘员", "surveyor", "130434"]]
    assert rows[0].split()[8:10] == ["已停用", "disabled"] and rows[1].split()[8:10] == ["启用", "active"]
    with get_engine(database_url).connect() as connection:
        hashes = list(connection.execute(sa.text("SELECT token_hash FROM users")).scalars())
    assert not any(secret in result.output for secret in [*tokens, *hashes])


def test_users_rotate_prints_a_new_token_alone_on_the_last_line_and_stores_its_hash(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    old = _add("li")

    result = CliRunner().invoke(app, ["users", "rotate", "li"])

    assert result.exit_code == 0, result.output
    new = result.stdout.splitlines()[-1]
    assert result.stdout == new + "\n" and len(new) >= 40 and new != old
    with get_engine(database_url).connect() as connection:
        stored = connection.execute(sa.text("SELECT token_hash FROM users WHERE name = 'li'")).scalar_one()
    assert stored == hashlib.sha256(new.encode()).hexdigest()


def test_users_disable_and_enable_change_the_listed_state(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    _add("li")

    disabled = CliRunner().invoke(app, ["users", "disable", "li"])
    listed_disabled = CliRunner().invoke(app, ["users", "list"]).stdout
    enabled = CliRunner().invoke(app, ["users", "enable", "li"])
    listed_enabled = CliRunner().invoke(app, ["users", "list"]).stdout

    assert disabled.exit_code == 0 and "disabled" in disabled.output
    assert enabled.exit_code == 0 and "active" in enabled.output
    assert "disabled" in listed_disabled and "active" not in listed_disabled
    assert "active" in listed_enabled and "disabled" not in listed_enabled


def test_users_attempts_lists_the_recorded_sign_ins_newest_first_without_tokens(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from fangpin.db.session import session_scope
    from fangpin.services import users

    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)
    token = _add("li")
    moment = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    with session_scope(database_url) as session:
        users.sign_in(session, "li", "a-wrong-guess", address="10.0.0.7", at=moment)
        users.sign_in(session, "li", token, address="10.0.0.7", at=moment + dt.timedelta(minutes=1))

    result = CliRunner().invoke(app, ["users", "attempts", "--name", "li"])

    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["at", "(UTC)", "channel"]
    assert [row.split()[1:] for row in rows] == [["08:01:00", "console", "li", "10.0.0.7", "ok"],
                                                 ["08:00:00", "console", "li", "10.0.0.7", "failed", "wrong_token"]]
    assert token not in result.output and "a-wrong-guess" not in result.output


@pytest.mark.parametrize("action", ["disable", "enable", "rotate"])
def test_changing_an_unknown_user_is_one_clear_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", database_url)

    result = CliRunner().invoke(app, ["users", action, "nobody"])

    assert result.exit_code == 2
    assert result.output.strip() == "error: 没有名为 'nobody' 的用户(fangpin users list 列出全部用户)"
    assert result.stdout == ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_serve_answers_checks_over_http_on_loopback(tmp_path: Path) -> None:
    env = {**os.environ, "FANGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}
    token = subprocess.run([sys.executable, "-m", "fangpin", "users", "add", "o", "--role", "office",
                            "--county", "130434"], env=env, capture_output=True, text=True, check=True).stdout.strip()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "fangpin", "serve", "--port", str(port), "--workers", "1",
                               "--log-level", "warning"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        response = httpx.post(f"{base}/v1/checks", json=document(), headers={"Authorization": f"Bearer {token}"})
        spec = httpx.get(f"{base}/v1/openapi.json").json()
        health = httpx.get(f"{base}/v1/health").json()
        # the job worker `fangpin serve` started runs a queued screening job
        drop = tmp_path / "upload"
        shutil.copytree(DEMO, drop)
        job = jobs.enqueue(env["FANGPIN_DATABASE_URL"], county="130434", year=2019, user="o", files=["x"],
                           drop_dir=drop, runs_dir=tmp_path / "runs", pack_dir=None, sources_dir=None)
        finished = jobs.wait_for(env["FANGPIN_DATABASE_URL"], job["id"], timeout=300)
    finally:
        server.terminate()
        server.wait(30)
    assert response.status_code == 201 and response.json()["decision"]["payout"] == "13000.00"
    assert health == {"status": "ok", "database": "ok", "dialect": "sqlite"}
    assert finished["state"] == "done" and (tmp_path / "runs" / finished["run_id"] / "report.xlsx").is_file()
    assert not drop.exists()
    assert "/v1/claims/{claim_id}/transitions" in spec["paths"]
