from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fangpin.db.session import dispose_all
from fangpin.packs import Pack, load_pack
from tests.support import PACK_2019


@pytest.fixture(scope="session")
def pack() -> Pack:
    return load_pack(PACK_2019)


# --- databases: every storage test runs on SQLite and on PostgreSQL ------------------------------------

POSTGRES_URL = os.environ.get("FANGPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_required() -> bool:
    return bool(os.environ.get("FANGPIN_REQUIRE_POSTGRES") or os.environ.get("CI"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty database: a SQLite file (its chain key beside it, the default), or a new schema in the
    PostgreSQL test database (its chain key in the test's folder)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fangpin.db'}"
        dispose_all()
        return
    monkeypatch.setenv("FANGPIN_CHAIN_KEY_FILE", str(tmp_path / "chain.key"))
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if _postgres_required():
            pytest.fail(f"PostgreSQL is required (CI) but unreachable at {POSTGRES_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    dispose_all()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
