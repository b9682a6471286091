"""Hash chains over append-only records, one chain per county and table.

Each record stores ``seq`` (1, 2, … per county), ``prev_hash`` (the record_hash of seq − 1, or GENESIS) and
``record_hash`` = HMAC-SHA256(chain key, prev_hash + "\\n" + canonical payload) (``fangpin.audit.keys``); records
written before keys, up to their chain's anchor, keep sha256(prev_hash + "\\n" + payload) (``record_hash``).
Writers take the chain's lock before they read its end (``fangpin.db.locks``), so they append one after the
other; a unique (county, seq) key in the database means two writers can never both extend the chain from
the same record even so. Altering a stored value, removing a record or inserting one out of order breaks the
chain at that record, which ``fangpin audit verify`` reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal

GENESIS = "0" * 64


def plain(value: object) -> object:
    if isinstance(value, dt.datetime):  # UTC without an offset: SQLite returns naive, PostgreSQL aware
        return (value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def canonical(values: Mapping[str, object]) -> str:
    """The payload as one deterministic string: sorted keys, no spaces, dates in ISO form."""
    return json.dumps({key: plain(value) for key, value in values.items()}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)


def record_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()
