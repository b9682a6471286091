"""Checking that nothing stored was altered: walk every chain."""

from __future__ import annotations

from sqlalchemy.orm import Session

from fangpin.db.chained import CHAINS, Break, walk


def verify_chains(session: Session, chains: tuple[str, ...] = tuple(CHAINS)) -> list[Break]:
    """The first break of each county's chain, for every chain; empty when everything is intact."""
    return [problem for chain in chains for problem in walk(session, chain)]
