"""Users and tokens (``services.users``): a token is known by its hash only and expires, a user can be disabled and
their token rotated, ``authenticate`` remembers what it found for a few seconds and for a bounded number of tokens,
refused tokens are recorded and rate-limited per address, and the tables are ones alembic manages."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete

from fangpin.claims import Actor, NotFound, Unauthenticated
from fangpin.config import Settings
from fangpin.db.claims_models import LoginAttempt, User
from fangpin.db.models import Base
from fangpin.db.session import alembic_config, get_engine, session_scope
from fangpin.services import logins, users
from tests.api.conftest import Api
from tests.support import COUNTY, START

OFFICE = Actor(name="office", role="office", county="130434")


def test_the_token_cache_forgets_the_least_recently_used_token_beyond_its_size() -> None:
    cache = users.TokenCache(ttl=60, size=2)
    cache.put(("db", "a"), OFFICE)
    cache.put(("db", "b"), OFFICE)
    cache.get(("db", "a"))

    cache.put(("db", "c"), OFFICE)

    assert cache.get(("db", "b")) is None
    assert cache.get(("db", "a")) == OFFICE and cache.get(("db", "c")) == OFFICE


def test_the_token_cache_forgets_a_token_once_its_time_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(users.time, "monotonic", lambda: now[0])
    cache = users.TokenCache(ttl=60, size=10)
    cache.put(("db", "a"), OFFICE)

    now[0] += 59
    remembered = cache.get(("db", "a"))
    now[0] += 1
    forgotten = cache.get(("db", "a"))

    assert remembered == OFFICE and forgotten is None


def test_a_removed_user_is_refused_once_the_cache_has_forgotten_the_token(database_url: str) -> None:
    with session_scope(database_url) as session:
        token = users.add_user(session, "office", "office", "130434")
    with session_scope(database_url) as session:
        assert users.authenticate(session, token) == OFFICE
        assert users.remembered(session, token) == OFFICE
        session.execute(delete(User).where(User.name == "office"))

    users.TOKENS.clear()

    with session_scope(database_url) as session, pytest.raises(Unauthenticated):
        users.authenticate(session, token)


@pytest.mark.parametrize("table", ["console_sessions", "users", "login_attempts"])
def test_the_tables_of_users_and_sessions_are_in_the_metadata_alembic_migrates(database_url: str, table: str) -> None:
    engine = get_engine(database_url)

    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert table in Base.metadata.tables
    assert [diff for diff in differences if f"'{table}'" in repr(diff) or f"{table}." in repr(diff)] == []


# --- expiry, disabling, rotation ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _forget_tokens() -> None:
    users.TOKENS.clear()


def _refused(database_url: str, token: str, at: dt.datetime) -> str:
    users.TOKENS.clear()  # as if the few seconds a process remembers a token had passed
    with session_scope(database_url) as session, pytest.raises(Unauthenticated) as refused:
        users.authenticate(session, token, at=at)
    return str(refused.value)


def test_a_token_is_valid_for_the_configured_days_and_refused_from_its_expiry(database_url: str) -> None:
    with session_scope(database_url) as session:
        token = users.add_user(session, "office", "office", COUNTY, at=START, days=30)

    with session_scope(database_url) as session:
        last_moment = users.authenticate(session, token, at=START + dt.timedelta(days=30, seconds=-1))

    assert last_moment == OFFICE
    assert "令牌已过期" in _refused(database_url, token, START + dt.timedelta(days=30))


def test_the_token_lifetime_defaults_to_ninety_days_from_the_setting(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().token_days == 90
    monkeypatch.setenv("FANGPIN_TOKEN_DAYS", "7")

    with session_scope(database_url) as session:
        users.add_user(session, "office", "office", COUNTY, at=START)
        [view] = users.list_users(session, at=START)

    assert view.expires_at == START + dt.timedelta(days=7)


def test_a_remembered_token_is_not_taken_past_its_expiry(database_url: str) -> None:
    with session_scope(database_url) as session:
        token = users.add_user(session, "office", "office", COUNTY, at=START, days=1)
        users.authenticate(session, token, at=START)

        remembered_before = users.remembered(session, token, START + dt.timedelta(hours=23))
        remembered_after = users.remembered(session, token, START + dt.timedelta(days=1))

    assert remembered_before == OFFICE and remembered_after is None


def test_a_user_written_without_an_expiry_counts_it_from_their_creation(database_url: str) -> None:
    with session_scope(database_url) as session:
        token = users.add_user(session, "office", "office", COUNTY, at=START)
        session.execute(sa.update(User).values(expires_at=None))

    with session_scope(database_url) as session:
        [view] = users.list_users(session, at=START)

    assert view.expires_at == START + dt.timedelta(days=90)
    assert "令牌已过期" in _refused(database_url, token, START + dt.timedelta(days=90))


def test_a_disabled_user_is_refused_and_listed_as_disabled_until_enabled(database_url: str) -> None:
    with session_scope(database_url) as session:
        token = users.add_user(session, "office", "office", COUNTY, at=START)
        users.authenticate(session, token, at=START)
    with session_scope(database_url) as session:
        users.disable_user(session, "office", at=START + dt.timedelta(hours=1))

    refusal = _refused(database_url, token, START + dt.timedelta(hours=2))
    with session_scope(database_url) as session:
        [listed] = users.list_users(session, at=START + dt.timedelta(hours=2))
        users.enable_user(session, "office")
    with session_scope(database_url) as session:
        accepted_again = users.authenticate(session, token, at=START + dt.timedelta(hours=3))

    assert "已被停用" in refusal
    assert listed.state == "disabled" and listed.disabled_at == START + dt.timedelta(hours=1)
    assert accepted_again == OFFICE


def test_rotating_refuses_the_old_token_accepts_the_new_one_and_renews_the_expiry(database_url: str) -> None:
    with session_scope(database_url) as session:
        old = users.add_user(session, "office", "office", COUNTY, at=START, days=10)
        users.authenticate(session, old, at=START)
    later = START + dt.timedelta(days=20)  # the old token had expired: rotating is how it is renewed
    with session_scope(database_url) as session:
        new = users.rotate_token(session, "office", at=later, days=10)

    refusal = _refused(database_url, old, later)
    with session_scope(database_url) as session:
        accepted = users.authenticate(session, new, at=later)
        [view] = users.list_users(session, at=later)

    assert new != old and "不属于任何用户" in refusal and accepted == OFFICE
    assert (view.state, view.rotated_at, view.expires_at) == ("active", later, later + dt.timedelta(days=10))


@pytest.mark.parametrize("change", [users.disable_user, users.enable_user, users.rotate_token, users.describe_user])
def test_changing_an_unknown_user_names_them(database_url: str, change: object) -> None:
    with session_scope(database_url) as session, pytest.raises(NotFound, match="没有名为 'nobody' 的用户"):
        change(session, "nobody")  # type: ignore[operator]


def test_the_token_cache_keeps_a_token_a_few_seconds_by_default() -> None:
    assert users.TokenCache().ttl == Settings().token_cache_seconds == 2.0


# --- refused tokens are recorded and rate-limited per address ---------------------------------------------


def _attempts(database_url: str) -> list[logins.AttemptView]:
    with session_scope(database_url) as session:
        return list(reversed(logins.attempts(session)))


def test_a_refused_bearer_token_is_recorded_with_its_address_but_never_the_token(api: Api) -> None:
    api.tokens["guess"] = "not-a-token-of-anyone"

    response = api.get("/v1/claims", who="guess")

    assert response.status_code == 401
    [attempt] = _attempts(api.database_url)
    assert (attempt.channel, attempt.name, attempt.address, attempt.outcome, attempt.reason) == (
        "api", None, "testclient", "failed", "unknown_token")
    with get_engine(api.database_url).connect() as connection:
        stored = [str(value) for row in connection.execute(sa.select(LoginAttempt.__table__)) for value in row]
    assert not any("not-a-token-of-anyone" in value for value in stored)


def test_a_disabled_user_s_token_is_recorded_under_their_name(api: Api) -> None:
    with session_scope(api.database_url) as session:
        users.disable_user(session, "village")
    users.TOKENS.clear()

    response = api.get("/v1/claims", who="village")

    assert response.status_code == 401 and "已被停用" in response.json()["detail"]
    assert [(a.name, a.reason) for a in _attempts(api.database_url)] == [("village", "disabled")]


def test_too_many_refused_tokens_from_an_address_are_answered_429_while_valid_tokens_still_pass(api: Api) -> None:
    api.tokens["guess"] = "not-a-token-of-anyone"
    statuses = [api.get("/v1/claims", who="guess").status_code for _ in range(6)]
    valid = api.get("/v1/claims", who="auditor")

    locked = api.get("/v1/claims", who="guess")

    assert statuses == [401] * 5 + [429] and valid.status_code == 200
    assert locked.status_code == 429 and locked.headers["content-type"] == "application/problem+json"
    assert int(locked.headers["retry-after"]) == 15 * 60
    assert [a.outcome for a in _attempts(api.database_url)] == ["failed"] * 5 + ["locked"] * 2
    api.clock.advance(minutes=15)
    assert api.get("/v1/claims", who="guess").status_code == 401


# --- the migration ------------------------------------------------------------------------------------------


def test_users_of_an_older_database_get_their_expiry_counted_from_the_upgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    engine = get_engine(database_url)
    command.downgrade(config, "0004")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO users (name, role, county, token_hash, created_at) "
                                   "VALUES ('old', 'office', '130434', 'h', :at)").bindparams(
            sa.bindparam("at", type_=sa.DateTime(timezone=True))), {"at": START})
    before = dt.datetime.now(dt.UTC)

    command.upgrade(config, "head")

    with session_scope(database_url) as session:
        [view] = users.list_users(session)
    assert view.state == "active"
    assert before + dt.timedelta(days=90) <= view.expires_at <= dt.datetime.now(dt.UTC) + dt.timedelta(days=90)


def test_going_below_0005_removes_disabled_users_rather_than_letting_them_back_in(database_url: str) -> None:
    with session_scope(database_url) as session:
        users.add_user(session, "kept", "office", COUNTY)
        users.add_user(session, "gone", "office", COUNTY)
        users.disable_user(session, "gone")

    command.downgrade(alembic_config(database_url), "0004")

    with get_engine(database_url).connect() as connection:
        names = list(connection.execute(sa.text("SELECT name FROM users")).scalars())
        tables = set(sa.inspect(connection).get_table_names())
    assert names == ["kept"] and "login_attempts" not in tables
    command.upgrade(alembic_config(database_url), "head")
