"""Sign-in attempts (``login_attempts``): recorded, and counted to lock out guessing.

Every console sign-in is recorded (``ok``, ``failed`` or ``locked``), and so is every API request whose
bearer token was refused; the token tried never is. A name, or an address, with ``login_max_failures``
failures within the last ``login_window_minutes`` (counted since its last successful sign-in) is locked: its
further attempts are refused, and recorded as ``locked`` (they do not prolong the lock), until enough of those
failures have left the window. ``locked`` says until when.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from fangpin.config import get_settings
from fangpin.db.claims_models import LoginAttempt

log = logging.getLogger("fangpin.services")

CHANNELS = ("console", "api")
OUTCOMES = ("ok", "failed", "locked")


@dataclass(frozen=True)
class Policy:
    """How many failures within how long lock a name or an address."""

    max_failures: int
    window: dt.timedelta

    @classmethod
    def from_settings(cls) -> Policy:
        settings = get_settings()
        return cls(settings.login_max_failures, dt.timedelta(minutes=settings.login_window_minutes))


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    channel: str
    name: str | None
    address: str | None
    outcome: str
    reason: str | None = None

    def values(self) -> dict[str, object]:
        return {"at": self.at.astimezone(dt.UTC), "channel": self.channel,
                "name": None if self.name is None else self.name[:100],
                "address": None if self.address is None else self.address[:64],
                "outcome": self.outcome, "reason": self.reason}


def _aware(moment: dt.datetime) -> dt.datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def record(session: Session, attempt: Attempt) -> None:
    """Add the attempt to the session's transaction."""
    session.execute(insert(LoginAttempt), [attempt.values()])


def record_apart(sessions: Callable[[], Session], attempt: Attempt) -> None:
    """Record an attempt in a transaction of its own (the request's is rolled back when it is refused). Never
    raises: the answer matters more than its record, so a failure to record is logged instead."""
    try:
        with sessions() as session, session.begin():
            record(session, attempt)
    except Exception:
        log.exception("could not record the %s sign-in attempt from %s", attempt.channel, attempt.address)


def _locked_until(session: Session, column: InstrumentedAttribute[str | None], value: str, at: dt.datetime,
                  policy: Policy) -> dt.datetime | None:
    since = at - policy.window
    last_ok = session.scalar(select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.outcome == "ok"))
    if last_ok is not None:
        since = max(since, _aware(last_ok))
    failures = [_aware(moment) for moment in session.scalars(
        select(LoginAttempt.at).where(column == value, LoginAttempt.outcome == "failed", LoginAttempt.at > since,
                                      LoginAttempt.at <= at).order_by(LoginAttempt.at))]
    if len(failures) < policy.max_failures:
        return None
    # Unlocked once all but max_failures - 1 of these failures have left the window.
    return failures[len(failures) - policy.max_failures] + policy.window


def locked(session: Session, *, name: str | None, address: str | None, at: dt.datetime,
           policy: Policy | None = None) -> dt.datetime | None:
    """Until when further attempts for this name or from this address are refused, or None."""
    policy = policy or Policy.from_settings()
    at = _aware(at)
    until = [moment for column, value in ((LoginAttempt.name, name), (LoginAttempt.address, address))
             if value is not None and (moment := _locked_until(session, column, value, at, policy)) is not None]
    return max(until) if until else None


@dataclass(frozen=True)
class AttemptView:
    at: dt.datetime
    channel: str
    name: str | None
    address: str | None
    outcome: str
    reason: str | None


def attempts(session: Session, *, name: str | None = None, address: str | None = None,
             limit: int = 100) -> list[AttemptView]:
    """The latest attempts, newest first, of a name or from an address (or all)."""
    query = select(LoginAttempt).order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc()).limit(limit)
    if name is not None:
        query = query.where(LoginAttempt.name == name)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    return [AttemptView(at=_aware(row.at), channel=row.channel, name=row.name, address=row.address,
                        outcome=row.outcome, reason=row.reason) for row in session.scalars(query)]
