"""Checking that nothing stored was altered: walk every chain, and check every run's event ledger, all
read from one consistent snapshot of the database, so writers working meanwhile raise no false alarm."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangpin.db.chained import CHAINS
from fangpin.db.models import Run, RunEvents
from fangpin.db.walk import Break, snapshot, walk


def verify_chains(session: Session, chains: tuple[str, ...] = tuple(CHAINS)) -> list[Break]:
    """The first break of each county's chain, for every chain, then every altered event ledger; empty
    when everything is intact."""
    with snapshot(session) as reading:
        problems = [problem for chain in chains for problem in walk(reading, chain)]
        return problems + list(_ledgers(reading))


def _ledgers(session: Session) -> list[Break]:
    problems = []
    rows = session.execute(select(RunEvents.run_id, RunEvents.county, RunEvents.sha256, RunEvents.data, Run.counts)
                           .join(Run, Run.id == RunEvents.run_id))
    for run_id, county, recorded, data, counts in rows:
        actual = hashlib.sha256(data).hexdigest()
        expected = (counts or {}).get("events", {}).get("sha256")
        if actual != recorded or actual != expected:
            problems.append(Break("run_events", county, 0, None,
                                  f"the event ledger of run {run_id} was altered (sha256 {actual[:12]}, "
                                  f"recorded {str(expected)[:12]})"))
    return problems
