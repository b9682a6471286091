"""Signing in to the console with the API's users, sessions that expire and can be ended (also by disabling the
user or rotating their token), sign-ins recorded and rate-limited, and each role's pages: on SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from fangpin.db.claims_models import LoginAttempt, User
from fangpin.db.models import ConsoleSession
from fangpin.db.session import session_scope
from fangpin.services import logins, users
from fangpin.web import auth, configure_console
from tests.support import COUNTY
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
    assert page.status_code == 200 and "office · 防贫办 · 魏县 (130434)" in text_of(page.text)


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


# --- sessions end with their user; sign-ins are recorded and rate-limited ------------------------------------


def _attempts(console: Console) -> list[tuple[str | None, str, str | None]]:
    with session_scope(console.database_url) as session:
        return [(a.name, a.outcome, a.reason) for a in reversed(logins.attempts(session))]


def test_a_console_session_ends_when_its_user_is_disabled(console: Console) -> None:
    client = console.login("office")
    assert client.get("/console").status_code == 200

    with session_scope(console.database_url) as session:
        users.disable_user(session, "office")

    assert client.get("/console").status_code == 303
    assert client.get("/console/api/fund/2019/chart").status_code == 401
    again = console.anonymous().post("/console/login", data={"name": "office", "token": console.tokens["office"]})
    assert again.status_code == 401 and "该用户已被停用:请联系管理员" in again.text


def test_a_console_session_ends_when_its_user_s_token_is_rotated_and_the_new_token_signs_in(console: Console) -> None:
    client = console.login("office")

    with session_scope(console.database_url) as session:
        console.tokens["office"] = users.rotate_token(session, "office", at=console.clock())

    assert client.get("/console").status_code == 303
    assert console.login("office").get("/console").status_code == 200


def test_a_session_found_after_its_user_was_disabled_in_sql_is_refused(console: Console) -> None:
    """The user's state is checked on every request, not only when disabling deletes the sessions."""
    client = console.login("auditor")

    with session_scope(console.database_url) as session:
        session.execute(sa.update(User).where(User.name == "auditor").values(disabled_at=console.clock()))

    assert client.get("/console").status_code == 303


def test_a_session_ends_when_its_user_s_token_expires(console: Console) -> None:
    configure_console(console.app, session_hours=48)
    with session_scope(console.database_url) as session:
        console.tokens["short"] = users.add_user(session, "short", "office", COUNTY, at=console.clock(), days=1)
    client = console.login("short")
    console.clock.advance(hours=23, minutes=59)
    assert client.get("/console").status_code == 200

    console.clock.advance(minutes=1)

    assert client.get("/console").status_code == 303
    again = console.anonymous().post("/console/login", data={"name": "short", "token": console.tokens["short"]})
    assert again.status_code == 401 and "令牌已过期" in again.text


def test_every_sign_in_is_recorded_with_its_name_and_address_but_never_the_token(console: Console) -> None:
    console.anonymous().post("/console/login", data={"name": "office", "token": "a-wrong-guess"})
    console.anonymous().post("/console/login", data={"name": "nobody", "token": "another-guess"})
    console.login("office")

    assert _attempts(console) == [("office", "failed", "wrong_token"), ("nobody", "failed", "unknown_user"),
                                  ("office", "ok", None)]
    with session_scope(console.database_url) as session:
        assert {a.address for a in logins.attempts(session)} == {"testclient"}
        stored = [str(value) for row in session.execute(sa.select(LoginAttempt.__table__)) for value in row]
    assert not any(secret in value for value in stored
                   for secret in ("a-wrong-guess", "another-guess", console.tokens["office"]))


def test_five_failures_for_a_name_lock_it_with_a_clear_message_until_they_leave_the_window(console: Console) -> None:
    client = console.anonymous()
    statuses = []
    for _ in range(5):
        statuses.append(client.post("/console/login", data={"name": "office", "token": "guess"}).status_code)
        console.clock.advance(minutes=1)

    locked = client.post("/console/login", data={"name": "office", "token": console.tokens["office"]})

    assert statuses == [401] * 5
    assert locked.status_code == 429 and "set-cookie" not in locked.headers
    assert "登录失败次数过多" in locked.text and "Too many" not in locked.text
    assert int(locked.headers["retry-after"]) == 10 * 60  # the first failure leaves the 15 minutes in 10
    assert _attempts(console)[-1] == ("office", "locked", None)
    console.clock.advance(minutes=10)
    assert console.login("office").get("/console").status_code == 200


def test_failures_from_one_address_lock_every_name_tried_from_it(console: Console) -> None:
    client = console.anonymous()
    for name in ("a", "b", "c", "d", "e"):
        client.post("/console/login", data={"name": name, "token": "guess"})

    locked = client.post("/console/login", data={"name": "office", "token": console.tokens["office"]})

    assert locked.status_code == 429


def test_a_successful_sign_in_clears_the_earlier_failures_of_its_name(console: Console) -> None:
    client = console.anonymous()
    for _ in range(4):
        client.post("/console/login", data={"name": "office", "token": "guess"})
    console.login("office")
    for _ in range(4):
        client.post("/console/login", data={"name": "office", "token": "guess"})

    assert console.login("office").get("/console").status_code == 200
