"""Checking that nothing stored was altered: walk every chain, check every claim against its chained history
and every run's event ledger, all read from one consistent snapshot of the database, so writers working
meanwhile raise no false alarm. Exporting each chain's head, signed with the chain key, and checking a
database against such an export later: a chain rewritten or cut after the export is caught even by one who
holds the key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangpin.audit.keys import ChainKey
from fangpin.db import queries
from fangpin.db.chained import CHAINS, chain_key
from fangpin.db.claims_models import Claim, ClaimEvent
from fangpin.db.models import Run, RunEvents
from fangpin.db.walk import Break, snapshot, walk
from fangpin.errors import FangpinError
from fangpin.money import to_fen

HEADS_FORMAT = "fangpin-chain-heads/1"


class HeadsFileError(FangpinError):
    """An exported heads file that cannot be read, or whose signature does not hold."""


def _lazy_key(session: Session) -> Callable[[], ChainKey]:
    found: list[ChainKey] = []

    def key() -> ChainKey:
        if not found:
            found.append(chain_key(session, create=False))
        return found[0]

    return key


def verify_chains(session: Session, chains: tuple[str, ...] = tuple(CHAINS), heads: Path | None = None) -> list[Break]:
    """The first break of each county's chain, for every chain, then every claim whose row disagrees with its
    chained history, every altered event ledger, and (with ``heads``, an export of ``export_heads``) every
    exported head no longer in its chain; empty when everything is intact."""
    exported = read_heads(heads, chain_key(session, create=False)) if heads is not None else None
    with snapshot(session) as reading:
        key = _lazy_key(reading)
        problems = [problem for chain in chains for problem in walk(reading, chain, key)]
        if "claim_events" in chains:
            problems += _claims(reading)
        problems += _ledgers(reading)
        if exported is not None:
            problems += _missing_heads(reading, exported)
        return problems


def _ledgers(session: Session) -> list[Break]:
    problems = []
    rows = session.execute(select(RunEvents.run_id, RunEvents.county, RunEvents.sha256, RunEvents.data, Run.counts,
                                  Run.purged_at)
                           .join(Run, Run.id == RunEvents.run_id)).all()
    for run_id, county, recorded, data, counts, purged_at in rows:
        expected = (counts or {}).get("events", {}).get("sha256")
        digest = hashlib.sha256(data)
        if not data:  # stored in parts since migration 0011 (the file is their bytes in order), or purged
            for part in queries.ledger_parts(session, run_id):
                digest.update(part)
                data = data or part
        if purged_at is not None and not data:  # purged: its chained run still records the digest
            if recorded != expected:
                problems.append(Break("run_events", county, 0, None, f"the event ledger digest of purged run "
                                      f"{run_id} was altered"))
            continue
        actual = digest.hexdigest()
        if actual != recorded or actual != expected:
            problems.append(Break("run_events", county, 0, None,
                                  f"the event ledger of run {run_id} was altered (sha256 {actual[:12]}, "
                                  f"recorded {str(expected)[:12]})"))
    return problems


# --- claims against their chained history ------------------------------------------------------------

def _fen(text: object) -> int | None:
    try:
        return to_fen(Decimal(str(text))) if text is not None else None
    except (InvalidOperation, ValueError):
        return None


def _claims(session: Session) -> list[Break]:
    """A claim's row is the only thing about it that changes, by UPDATE: its state, version and amounts must
    be what its chained steps say (the last step; one version per step; the amount decided at filing; the
    amount paid and fee of the payment step)."""
    history: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for claim_id, step, payload in session.execute(
        select(ClaimEvent.claim_id, ClaimEvent.step, ClaimEvent.payload).order_by(ClaimEvent.county, ClaimEvent.seq)
    ):
        history.setdefault(int(claim_id), []).append((str(step), dict(payload or {})))
    problems = []
    claims = session.execute(select(Claim.id, Claim.county, Claim.state, Claim.version, Claim.decision_id,
                                    Claim.filing_decision_id, Claim.amount_decided, Claim.amount_paid, Claim.fee)
                             .order_by(Claim.id))
    for claim in claims:
        events = history.get(int(claim.id), [])
        expected: dict[str, object] = {"state": events[-1][0] if events else None, "version": len(events)}
        if events:
            expected["decision_id"] = events[0][1].get("decision_id")
        filed = [payload for step, payload in events if step == "filed"]
        if filed:
            expected["filing_decision_id"] = filed[-1].get("decision_id")
            expected["amount_decided"] = _fen(filed[-1].get("amount_decided"))
        paid = [payload for step, payload in events if step == "paid"]
        expected["amount_paid"] = _fen(paid[-1].get("amount")) if paid else None
        expected["fee"] = _fen(paid[-1].get("fee")) if paid else None
        wrong = [f"{name} {getattr(claim, name)!r} (its chained steps say {value!r})"
                 for name, value in expected.items() if getattr(claim, name) != value]
        if wrong:
            problems.append(Break("claims", claim.county, 0, int(claim.id),
                                  "the claim was altered outside its steps: " + "; ".join(wrong)))
    return problems


# --- exported heads ------------------------------------------------------------------------------------

def chain_ends(session: Session) -> list[dict[str, Any]]:
    """Each chain's last record per county: chain, county, seq, hash."""
    heads = []
    for name, model in CHAINS.items():
        table = model.__table__
        last = (select(table.c.county, func.max(table.c.seq).label("seq")).group_by(table.c.county)
                .subquery())
        rows = session.execute(
            select(table.c.county, table.c.seq, table.c.record_hash)
            .join(last, (last.c.county == table.c.county) & (last.c.seq == table.c.seq))
            .order_by(table.c.county)
        )
        heads += [{"chain": name, "county": county, "seq": int(seq), "record_hash": record_hash}
                  for county, seq, record_hash in rows]
    return heads


def export_heads(session: Session, out: Path, at: dt.datetime | None = None) -> dict[str, Any]:
    """Write every chain's head, signed with the chain key, to ``out`` (after verifying that everything is
    intact: an export vouches for what it lists). Raises FangpinError naming the first break."""
    problems = verify_chains(session)
    if problems:
        raise FangpinError(f"not exporting heads of a database that does not verify: {problems[0]}")
    key = chain_key(session)
    with snapshot(session) as reading:
        heads = chain_ends(reading)
    document: dict[str, Any] = {"format": HEADS_FORMAT, "exported_at": (at or dt.datetime.now(dt.UTC)).isoformat(),
                                "key": key.fingerprint, "heads": heads}
    document["signature"] = key.sign(document)
    out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return document


def read_heads(path: Path, key: ChainKey) -> list[dict[str, Any]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HeadsFileError(f"{path}: not a heads file written by `fangpin audit export-heads`: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != HEADS_FORMAT:
        raise HeadsFileError(f"{path}: not a heads file written by `fangpin audit export-heads` (format)")
    signature = document.pop("signature", None)
    if not isinstance(signature, str) or not key.verify(document, signature):
        raise HeadsFileError(f"{path}: the signature does not hold: the file was altered, or signed with another "
                             f"chain key (this key: {key.fingerprint}, the file's: {document.get('key')})")
    heads = document.get("heads")
    if not isinstance(heads, list):
        raise HeadsFileError(f"{path}: heads: not a list")
    return heads


def _missing_heads(session: Session, heads: list[dict[str, Any]]) -> list[Break]:
    problems = []
    for head in heads:
        model = CHAINS.get(str(head.get("chain")))
        if model is None:
            problems.append(Break(str(head.get("chain")), str(head.get("county")), int(head.get("seq", 0)), None,
                                  "an exported head names a chain this database does not have"))
            continue
        table = model.__table__
        stored = session.scalar(select(table.c.record_hash)
                                .where(table.c.county == head["county"], table.c.seq == head["seq"]))
        if stored != head["record_hash"]:
            problem = ("is gone: the chain was cut after the export" if stored is None
                       else "has another hash: the chain was rewritten after the export")
            problems.append(Break(head["chain"], head["county"], int(head["seq"]), None,
                                  f"the head exported at seq {head['seq']} {problem}"))
    return problems
