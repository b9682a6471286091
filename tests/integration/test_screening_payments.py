"""A screening run's payments name the decisions that made them.

The run stores its decisions, then its payments, each naming its decision's id. The ids are taken from where
the decisions went (the largest id before them + 1 …) when the database gave them in order, and read back
when another writer took ids in between (``chained.append_frames``): both ways, every payment must name a
decision of its own household and run, and every paying decision must have its payments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import fangpin_synth as synth
from fangpin.claims import Actor
from fangpin.db import chained
from fangpin.db.models import DecisionRecord, Payment
from fangpin.db.session import get_engine, session_scope
from fangpin.documents import household_from
from fangpin.services import checks
from fangpin.services.audit import verify_chains
from fangpin.services.screening import ScreenRequest, screen
from tests.support import COUNTY, OTHER_COUNTY, document


def _payments_and_decisions(database_url: str, run_id: str) -> tuple[list[Any], list[Any]]:
    with session_scope(database_url) as session:
        payments = session.execute(
            sa.select(Payment.household_id, Payment.cause, Payment.amount, DecisionRecord.household_id,
                      DecisionRecord.run_id, DecisionRecord.amounts)
            .join(DecisionRecord, DecisionRecord.id == Payment.decision_id)
            .where(Payment.run_id == run_id)
        ).all()
        paying = session.execute(
            sa.select(DecisionRecord.id).where(DecisionRecord.run_id == run_id, DecisionRecord.payout > 0)
        ).scalars().all()
    return payments, paying


def _check_payments(database_url: str, run: dict[str, Any]) -> None:
    payments, paying = _payments_and_decisions(database_url, run["run_id"])
    assert len(paying) > 100  # enough decisions that a shifted id would name another household
    assert payments, "the run paid nothing"
    for household, cause, amount, decided_household, decided_run, amounts in payments:
        assert (decided_household, decided_run) == (household, run["run_id"])
        assert '"' + cause + '"' in str(amounts) and amount > 0
    with session_scope(database_url) as session:
        named = set(session.execute(sa.select(Payment.decision_id).where(Payment.run_id == run["run_id"])).scalars())
        assert named == set(paying)
        assert verify_chains(session) == []


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("payments") / "drop"
    synth.generate_drop(folder, 2500, seed=23, formats="utf8")  # over STAGE_MIN_ROWS: the staged insert
    return folder


def _screen(drop: Path, database_url: str, tmp_path: Path) -> dict[str, Any]:
    return screen(ScreenRequest(drop=drop, year=2019, county=COUNTY, database_url=database_url,
                                runs_dir=tmp_path / "runs")).run


def test_payments_name_their_decisions_when_the_ids_follow(database_url: str, drop: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    get_engine(database_url)
    with session_scope(database_url) as session:  # ids already taken: the run's do not start at 1
        checks.check(session, Actor("surveyor", "surveyor", OTHER_COUNTY),
                     household_from(document(f"{OTHER_COUNTY}-0001", county=OTHER_COUNTY)))
    seen: list[chained.Appended] = []
    real = chained.append_frames

    def watched(*args: Any, **kwargs: Any) -> chained.Appended:
        appended = real(*args, **kwargs)
        seen.append(appended)
        return appended

    monkeypatch.setattr("fangpin.services.screening.append_frames", watched)
    _check_payments(database_url, _screen(drop, database_url, tmp_path))
    assert seen[0].first_id == 2  # the decisions' ids were known without reading them back


def test_payments_name_their_decisions_when_another_writer_took_ids_in_between(
    database_url: str, drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = chained.bulk_insert_parts
    taken: list[int] = []

    def insert_after_a_check(session: Any, table: Any, *args: Any, **kwargs: Any) -> int:
        # after the run read the largest id, and before its decisions go in, another county's check takes
        # the next id: the run's decisions do not start where the largest id said
        if table is DecisionRecord and not taken:
            stored = checks.check(session, Actor("surveyor", "surveyor", OTHER_COUNTY),
                                  household_from(document(f"{OTHER_COUNTY}-0002", county=OTHER_COUNTY)))
            taken.append(stored.id)
        return real_insert(session, table, *args, **kwargs)

    get_engine(database_url)
    monkeypatch.setattr(chained, "bulk_insert_parts", insert_after_a_check)
    run = _screen(drop, database_url, tmp_path)
    assert taken == [1]
    _check_payments(database_url, run)
