"""Signing in to the console with the API's users, sessions that expire and can be ended, and each role's
pages: on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from fangpin.db.models import ConsoleSession
from fangpin.db.session import session_scope
from fangpin.web import auth, configure_console
from tests.web.conftest import Console, text_of

PAGES = {
    "/console": "home",
    "/console/screening": "screening",
    "/console/runs": "runs",
    "/console/households": "households",
    "/console/claims": "claims",
    "/console/fund": "fund",
    "/console/audit": "audit",
}


def test_a_user_signs_in_with_the_token_the_api_uses_and_gets_a_strict_httponly_cookie(console: Console) -> None:
    client = console.anonymous()
    assert client.get("/console/login").status_code == 200

    response = client.post("/console/login", data={"name": "office", "token": console.tokens["office"],
                                                   "next": "/console/claims"})

    assert response.status_code == 303 and response.headers["location"] == "/console/claims"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{auth.COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/console", "Max-Age=28800"):
        assert attribute.lower() in cookie.lower(), cookie
    raw = cookie.split(";")[0].split("=", 1)[1]
    with session_scope(console.database_url) as session:
        stored = session.scalars(select(ConsoleSession)).all()
    assert [s.user_name for s in stored] == ["office"]
    assert stored[0].id_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in stored[0].id_hash
    page = client.get("/console")
    assert page.status_code == 200 and "office · 防贫办 · 县(区)130434" in text_of(page.text)


@pytest.mark.parametrize(("name", "token"), [("office", "wrong"), ("nobody", "x"), ("office", ""),
                                             ("surveyor", "TOKEN-OF-office")])
def test_a_wrong_name_or_token_is_refused_without_a_session(console: Console, name: str, token: str) -> None:
    client = console.anonymous()
    token = console.tokens["office"] if token == "TOKEN-OF-office" else token

    response = client.post("/console/login", data={"name": name, "token": token})

    assert response.status_code == 401 and "用户名或令牌不正确" in response.text
    assert "set-cookie" not in response.headers
    with session_scope(console.database_url) as session:
        assert session.scalars(select(ConsoleSession)).all() == []


def test_without_a_session_pages_redirect_to_the_login_and_actions_answer_401(console: Console) -> None:
    client = console.anonymous()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=")
    assert client.get("/console/runs?page=2").headers["location"] == "/console/login?next=%2Fconsole%2Fruns%3Fpage%3D2"
    for path in ("/console/api/jobs/abc", "/console/api/runs/x/charts/payouts", "/console/api/fund/2019/chart",
                 "/console/runs/x/files/report.xlsx", "/console/api/households?q=1"):
        assert client.get(path).status_code == 401, path
    for path in ("/console/screening", "/console/claims/1/transitions", "/console/runs/x/open-claims",
                 "/console/fund/inputs", "/console/logout"):
        assert client.post(path, data={"csrf": "x"}).status_code == 401, path
    client.cookies.set(auth.COOKIE, "forged-session-id", path="/console")
    assert client.get("/console").status_code == 303


def test_the_login_returns_only_to_a_console_page(console: Console) -> None:
    client = console.anonymous()
    for target in ("https://evil.example/console", "//evil.example/console", "/v1/claims", "javascript:alert(1)"):
        response = client.post("/console/login", data={"name": "office", "token": console.tokens["office"],
                                                       "next": target})
        assert response.headers["location"] == "/console", target


def test_logging_out_deletes_the_session(console: Console) -> None:
    client = console.login("office")
    cookie = client.cookies.get(auth.COOKIE)

    response = client.post("/console/logout", data={"csrf": console.csrf(client)})

    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    with session_scope(console.database_url) as session:
        assert session.scalars(select(ConsoleSession)).all() == []
    replay = console.anonymous()
    replay.cookies.set(auth.COOKIE, cookie, path="/console")
    assert replay.get("/console").status_code == 303


def test_a_session_expires_after_eight_hours_by_default(console: Console) -> None:
    client = console.login("office")
    console.clock.advance(hours=7, minutes=59)
    assert client.get("/console").status_code == 200

    console.clock.advance(minutes=1)

    assert client.get("/console").status_code == 303
    assert client.get("/console/api/fund/2019/chart").status_code == 401
    with session_scope(console.database_url) as session:
        assert session.scalars(select(ConsoleSession)).all() == []


def test_the_session_lifetime_is_configurable(console: Console) -> None:
    configure_console(console.app, session_hours=0.5)
    client = console.login("auditor")
    console.clock.advance(minutes=31)
    assert client.get("/console").status_code == 303


def test_an_action_without_the_form_token_of_the_session_is_refused(console: Console) -> None:
    client = console.login("office")
    other = console.login("auditor")

    assert client.post("/console/logout").status_code == 403
    assert client.post("/console/logout", data={"csrf": console.csrf(other)}).status_code == 403
    assert client.post("/console/logout", headers={"X-CSRF-Token": console.csrf(client)}).status_code == 303


EXPECTED = {
    "office": {"home", "screening", "runs", "households", "claims", "fund"},
    "surveyor": {"home", "households", "claims"},
    "village": {"home", "households", "claims"},
    "department": {"home", "households", "claims"},
    "auditor": {"home", "runs", "households", "claims", "fund", "audit"},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_opens_only_its_pages_and_sees_only_their_links(console: Console, role: str) -> None:
    client = console.login(role)
    home = client.get("/console").text
    for path, section in PAGES.items():
        response = client.get(path)
        if section in EXPECTED[role]:
            assert response.status_code == 200, (role, path)
        else:
            assert response.status_code == 403, (role, path)
            assert "无权" in text_of(response.text)
        linked = f'href="{path}"' in home.split("<main>")[0]
        assert linked == (section in EXPECTED[role]), (role, path)


def test_pages_carry_a_content_security_policy_without_inline_scripts(console: Console) -> None:
    client = console.login("office")
    for path in ("/console", "/console/screening", "/console/claims", "/console/login"):
        response = (console.anonymous() if path == "/console/login" else client).get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text and "http://" not in response.text.replace("http://testserver", "")
