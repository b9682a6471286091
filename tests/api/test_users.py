"""Users and tokens (``services.users``): a token is known by its hash only, ``authenticate`` remembers what it
found for a short while and for a bounded number of tokens, and the console's table is one alembic manages."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete

from fangpin.claims import Actor, Unauthenticated
from fangpin.db.claims_models import User
from fangpin.db.models import Base
from fangpin.db.session import get_engine, session_scope
from fangpin.services import users

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


def test_the_console_sessions_table_is_in_the_metadata_alembic_migrates(database_url: str) -> None:
    engine = get_engine(database_url)

    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert "console_sessions" in Base.metadata.tables
    assert [diff for diff in differences if "console_sessions" in repr(diff)] == []
