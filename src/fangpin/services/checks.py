"""Single checks, stored: decide one household document and keep the decision (with its facts, the pack
and the document) so it can be read and replayed. Also reading a stored decision, and replaying it.

The decision is appended to its county's chain by ``db.chained.append_one``, under the chain's lock, the
same lock a screening run storing into the county takes: the two wait for each other. The API on PostgreSQL
stores them by group commit instead (``GroupedChecks``, ``db.grouped``): the checks of a county that arrive
together are linked and committed in one transaction under one taking of that lock.

Length: over 300 lines because a check is stored two ways that must give the same record and answer (one
by one, and by group commit in steps the API's event loop and thread pool share: ``decide``, ``settle``,
``prepare``), beside reading and replaying a stored decision, which use the same record.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fangpin import privacy
from fangpin.claims import CHECKERS, REPLAYERS, Actor, NotAllowed, in_county
from fangpin.config import get_settings
from fangpin.db import decision_causes, queries
from fangpin.db.chained import append_one
from fangpin.db.grouped import GroupCommit
from fangpin.db.models import DECISION_LAYOUT, DecisionRecord
from fangpin.deciding import decide
from fangpin.decisions import Decision
from fangpin.errors import DocumentError, NoPackForYear
from fangpin.facts import Household
from fangpin.fund import yuan
from fangpin.labels import ROLES as ROLE_NAMES
from fangpin.labels import field_label, label
from fangpin.money import ZERO, to_decimal, to_fen
from fangpin.packs import Pack
from fangpin.packs.cache import PackCache
from fangpin.packs.conditions import HOUSEHOLD_FIELDS
from fangpin.services import access_log, request_log, resolve_pack, users

MAX_AMOUNT = Decimal("10000000000.00")  # ten billion yuan: far above any household, far below int64 fen
MAX_EVENTS = 1000
MAX_MEMBERS = 1000


def iso_utc(moment: dt.datetime) -> str:
    """UTC with its offset: SQLite hands datetimes back naive (they were stored in UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()


# --- packs: loaded once per process ------------------------------------------------------------------

class Packs:
    """The process's pack cache (``packs.cache``) with this layer's loaders: the shipped or named packs by
    policy year, the packs stored with decisions by hash, and storing a pack once per database."""

    def __init__(self) -> None:
        self.cache = PackCache(resolve_pack)

    def for_year(self, year: int, pack_dir: Path | None = None, rules_dir: Path | None = None) -> Pack:
        return self.cache.for_year(year, pack_dir, rules_dir)

    def by_hash(self, session: Session, pack_hash: str) -> Pack:
        """The pack that made a stored decision: one already loaded, else rebuilt from the stored files."""
        from fangpin.services.replay import stored_pack

        return self.cache.by_hash(pack_hash, lambda: stored_pack(session, pack_hash))

    def ensure_stored(self, session: Session, pack: Pack) -> None:
        """``queries.ensure_pack``, skipped once this process has seen the pack stored in this database."""
        if self.known_stored(session, pack):
            return
        if queries.ensure_pack(session, pack):
            self.cache.remember_stored(_database(session), pack.hash)

    def known_stored(self, session: Session, pack: Pack) -> bool:
        """This process has seen the pack stored in the session's database."""
        return self.cache.known_stored(_database(session), pack.hash)


def _database(session: Session) -> str:
    """The session's database, as the pack cache names it."""
    return users.database_name(session)


PACKS = Packs()


# --- checks ------------------------------------------------------------------------------------------

def validate_household(household: Household) -> None:
    """Limits the document model leaves open but storage needs: identifier lengths, household size,
    amounts (so every sum fits in 64-bit fen on both databases)."""
    for name, limit in (("household_id", 64), ("township", 100), ("village", 100), ("head_name", 100),
                        ("head_id", 64)):
        value = getattr(household, name)
        if value is not None and len(value) > limit:
            raise DocumentError(f"{field_label(name)}:超过 {limit} 个字符", field=name)
    if household.members > MAX_MEMBERS:
        raise DocumentError(f"{field_label('members')}:一户超过 {MAX_MEMBERS} 人,请核对", field="members")
    amounts: list[tuple[str, Decimal | None]] = [("income", household.income),
                                                 ("income_per_capita", household.income_per_capita)]
    amounts += [(f"paid_this_year.{cause}", amount) for cause, amount in household.paid_this_year.items()]
    for cause, events in household.events.items():
        if len(events) > MAX_EVENTS:
            raise DocumentError(f"{field_label(cause)}:超过 {MAX_EVENTS} 条记录", field=cause)
        for index, item in enumerate(events):
            for name, value in item.fields.items():
                if isinstance(value, Decimal | int) and not isinstance(value, bool):
                    amounts.append((f"{cause}[{index}].{name}", Decimal(value)))
                elif isinstance(value, str):
                    try:
                        amounts.append((f"{cause}[{index}].{name}", to_decimal(value)))
                    except ValueError:
                        continue  # not an amount: the pack checks it
    for field, amount in amounts:
        if amount is not None and amount > MAX_AMOUNT:
            raise DocumentError(f"{field_label(field)}:{amount} 元超过上限 {MAX_AMOUNT} 元,请核对", field=field)


def decision_row(decision: Decision, paid_before: dict[str, Decimal], *, document: dict[str, Any] | None = None,
                 at: dt.datetime | None = None) -> dict[str, Any]:
    """A decision as its county's chain of decisions stores it (before it is linked)."""
    return {
        "run_id": None,
        "county": decision.county,
        "year": decision.year,
        "household_id": decision.household_id,
        "township": decision.township,
        "village": decision.village,
        "pack_hash": decision.pack.hash,
        **{name: decision.engine_facts[name] for name in HOUSEHOLD_FIELDS},
        "bases": decision_causes.as_text({c.cause: to_fen(c.base) for c in decision.causes}),
        "paid_before": decision_causes.as_text({c.cause: to_fen(paid_before.get(c.cause, ZERO))
                                                for c in decision.causes}),
        "rules": ",".join(rule.id for rule in decision.rules),
        "group": decision.group,
        "outcome": decision.outcome,
        "amounts": decision_causes.as_text({c.cause: to_fen(c.increment) for c in decision.causes}),
        "layout": DECISION_LAYOUT,
        "payout": to_fen(decision.payout),
        "fee": to_fen(decision.fee),
        "document": document,
        "recorded_at": (at or queries.now()).astimezone(dt.UTC),
    }


def store_decision(
    session: Session,
    decision: Decision,
    paid_before: dict[str, Decimal],
    *,
    document: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one decision to its county's chain of decisions; its id. The pack must already be stored."""
    row = decision_row(decision, paid_before, document=document, at=at)
    return int(append_one(session, DecisionRecord, decision.county, row))


def store_check(session: Session, decision: Decision, household: Household, at: dt.datetime | None = None) -> int:
    """Store a single check: the decision, the facts it was made on, what was paid before, the document."""
    return store_decision(session, decision, {c.cause: c.paid_before for c in decision.causes},
                          document=household.to_document(), at=at)


@dataclass(frozen=True)
class StoredCheck:
    id: int
    decision: Decision


def check(session: Session, actor: Actor, household: Household, *, pack_dir: Path | None = None,
          rules_dir: Path | None = None, at: dt.datetime | None = None) -> StoredCheck:
    """POST /v1/checks: decide a household of the user's county and store the decision. The pack: the one
    in ``pack_dir``, else the one in force for the year in ``rules_dir`` (default: the setting, else the
    shipped packs; the API names the folder it was started with, sparing a read of the settings per check)."""
    decision = _decide(session, actor, household, pack_dir, rules_dir)
    return StoredCheck(store_check(session, decision, household, at), decision)


def _decide(session: Session, actor: Actor, household: Household, pack_dir: Path | None,
            rules_dir: Path | None = None) -> Decision:
    decision, pack = _decide_only(actor, household, pack_dir, rules_dir)
    PACKS.ensure_stored(session, pack)
    return decision


def _decide_only(actor: Actor, household: Household, pack_dir: Path | None,
                 rules_dir: Path | None = None) -> tuple[Decision, Pack]:
    """The decision, and the pack that made it, touching no database (the pack may be loaded from its files)."""
    if actor.role not in CHECKERS:
        raise NotAllowed(f"{label(ROLE_NAMES, actor.role)}不能核查农户(只读)")
    if household.county != actor.county:
        raise NotAllowed(f"此户属于县(区) {household.county},{actor.name} 在 {actor.county} 工作,无权核查")
    if not privacy.in_scope(actor.scope, household.township, household.village):
        raise NotAllowed(f"此户不在 {actor.name} 负责的范围({actor.scope})内,无权核查")
    validate_household(household)
    pack = pack_for(household.year, pack_dir, rules_dir)
    return decide(household, pack), pack


@dataclass(frozen=True)
class PreparedCheck:
    """A check decided, its record not yet stored (``GroupedChecks``)."""

    decision: Decision
    row: dict[str, Any]
    pack: Pack | None = None


class GroupedChecks:
    """Single checks stored by group commit (PostgreSQL, ``db.grouped``): ``prepare`` decides in the
    request's session and ends its transaction; ``submit`` queues the record, with the request's log line,
    for the county's chain, and the future it returns is set to the record's id once the transaction
    holding both has committed. Checks of one county arriving together are committed together.

    ``prepare`` is ``decide`` (CPU only: the API calls it in the event loop, sparing a trip to the thread
    pool) followed by ``settle`` (what needs the database: storing the pack the first time, committing what
    the session did), which the API calls in the thread pool, and only when ``settled`` says it is needed."""

    def __init__(self, engine: Engine) -> None:
        self.group = GroupCommit(engine, DecisionRecord)

    @staticmethod
    def prepare(session: Session, actor: Actor, household: Household, *, pack_dir: Path | None = None,
                rules_dir: Path | None = None, at: dt.datetime | None = None) -> PreparedCheck:
        """Decide as ``check`` does; what the session did (the user looked up, the pack stored the first
        time) is committed here, so that a request waiting for its group holds no connection."""
        prepared = GroupedChecks.decide(actor, household, pack_dir=pack_dir, rules_dir=rules_dir, at=at)
        GroupedChecks.settle(session, prepared)
        return prepared

    @staticmethod
    def decide(actor: Actor, household: Household, *, pack_dir: Path | None = None,
               rules_dir: Path | None = None, at: dt.datetime | None = None) -> PreparedCheck:
        """The decision and its record, as ``check`` makes them, without any database."""
        decision, pack = _decide_only(actor, household, pack_dir, rules_dir)
        return PreparedCheck(decision, decision_row(decision, {c.cause: c.paid_before for c in decision.causes},
                                                    document=household.to_document(), at=at), pack)

    @staticmethod
    def settled(session: Session, prepared: PreparedCheck) -> bool:
        """Nothing is left for ``settle`` to do: the session has begun no transaction and the pack is known
        to be stored in its database."""
        return (not session.in_transaction() and not access_log.noted(session) and prepared.pack is not None
                and PACKS.known_stored(session, prepared.pack))

    @staticmethod
    def settle(session: Session, prepared: PreparedCheck) -> None:
        """Store the decision's pack if this database may not have it, and commit what the session did."""
        if prepared.pack is not None:
            PACKS.ensure_stored(session, prepared.pack)
        if access_log.noted(session):
            raise RuntimeError("a grouped check reads nothing that the access log keeps")
        if session.in_transaction():
            session.commit()

    def close(self) -> None:
        """Store what is queued and give the lanes' connections back (the API's shutdown)."""
        self.group.close()

    def submit(self, prepared: PreparedCheck, entry: request_log.Entry | None) -> Future[int]:
        return self.group.submit(prepared.decision.county, prepared.row,
                                 [request_log.row(entry)] if entry is not None else [])


def grouped_checks(engine: Engine) -> GroupedChecks | None:
    """Group commit of single checks for this engine, when the setting ``api_group_commit`` asks for it
    and the database is PostgreSQL (on SQLite, checks are stored one by one: one writer at a time, and a
    commit that does not wait for the disk)."""
    if engine.dialect.name != "postgresql" or not get_settings().api_group_commit:
        return None
    return GroupedChecks(engine)


def pack_for(year: int, pack_dir: Path | None, rules_dir: Path | None = None) -> Pack:
    try:
        return PACKS.for_year(year, pack_dir, rules_dir)
    except NoPackForYear as exc:
        raise DocumentError(f"{field_label('year')}:{exc}", field="year") from None


# --- reading and replaying stored decisions ----------------------------------------------------------

def _record(session: Session, actor: Actor, decision_id: int) -> DecisionRecord:
    return in_county(session.get(DecisionRecord, decision_id), actor, f"判定 #{decision_id} ")


def decision_view(session: Session, actor: Actor, decision_id: int) -> dict[str, Any]:
    """A stored decision as auditors read it: the facts, what was paid before, the amounts, the rules,
    the pack, the document (single checks; withheld from the roles ``privacy`` says need no identity), and
    its place in the county's chain. Recorded in the access log."""
    record = _record(session, actor, decision_id)
    access_log.note(session, "decision", record.id, record.household_id)
    return {
        "id": record.id,
        "run_id": record.run_id,
        "county": record.county,
        "year": record.year,
        "household_id": record.household_id,
        "township": record.township,
        "village": record.village,
        "facts": {**{name: yuan(getattr(record, name)) if kind == "money" else getattr(record, name)
                     for name, kind in HOUSEHOLD_FIELDS.items()},
                  **{f"{cause}_base": yuan(value) for cause, value in decision_causes.of(record.bases).items()}},
        "paid_before": {cause: yuan(value) for cause, value in decision_causes.of(record.paid_before).items()},
        "group": record.group,
        "outcome": record.outcome,
        "amounts": {**{cause: yuan(value) for cause, value in decision_causes.of(record.amounts).items()},
                    "payout": yuan(record.payout), "fee": yuan(record.fee)},
        "rules": record.rules.split(",") if record.rules else [],
        "pack_hash": record.pack_hash,
        "document": privacy.document_for(actor.role, record.document),  # withheld from roles that need no identity
        "recorded_at": iso_utc(record.recorded_at),
        "chain": {"seq": record.seq, "prev_hash": record.prev_hash, "record_hash": record.record_hash},
    }


def replay(session: Session, actor: Actor, decision_id: int) -> dict[str, Any]:
    """Re-decide a stored decision's facts under the pack that made it: identical, or what differs."""
    from fangpin.services.replay import replay_decision

    if actor.role not in REPLAYERS:
        raise NotAllowed(f"{label(ROLE_NAMES, actor.role)}不能重放判定(由审计重放)")
    record = _record(session, actor, decision_id)
    access_log.note(session, "decision", record.id, record.household_id)
    result = replay_decision(session, decision_id)
    differences = [
        {key: (yuan(value) if key in ("before", "after", "difference") and isinstance(value, int) else value)
         for key, value in row.items()}
        for row in result.diff.to_dicts()
    ]
    return {
        "decision_id": decision_id,
        "identical": result.identical,
        "pack_before": {"id": result.pack_before.id, "hash": result.pack_before.hash},
        "pack_after": {"id": result.pack_after.id, "hash": result.pack_after.hash},
        "stored_digest": result.stored_digest,
        "replayed_digest": result.replayed_digest,
        "differences": differences,
    }
