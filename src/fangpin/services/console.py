"""The console's browser sessions (``console_sessions``): opened at sign-in, closed at sign-out, looked up on
every request with their user's state, so a session ends as soon as its user is disabled, their token expires
or is rotated (``services.users``; disabling and rotating also delete the user's sessions). Only the sha256 of
a session's id is stored, like the API's tokens, so a copy of the database opens no session."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from fangpin.claims import Actor
from fangpin.db.models import ConsoleSession
from fangpin.services.users import active_user


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    expires_at: dt.datetime


def session_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive (stored in UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def open_session(session: Session, user_name: str, at: dt.datetime, valid_for: dt.timedelta) -> str:
    """A new session for the user; the raw id (for the cookie). Expired sessions are cleared on the way."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= at))
    raw = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id_hash=session_digest(raw), user_name=user_name, created_at=at,
                               expires_at=at + valid_for))
    session.flush()
    return raw


def close_session(session: Session, raw: str | None) -> None:
    if raw:
        session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == session_digest(raw)))


def signed_in(session: Session, raw: str, now: dt.datetime, *,
              sessions: Callable[[], Session]) -> SignedIn | None:
    """Who a session id belongs to and until when, or None (unknown, expired, or its user removed, disabled,
    expired or given a new token since). An
    expired session is deleted for good in a transaction of its own (opened from ``sessions``): the
    request's own is rolled back when it is refused."""
    record = session.get(ConsoleSession, session_digest(raw))
    if record is None:
        return None
    if aware(record.expires_at) <= now:
        with sessions() as cleanup, cleanup.begin():
            cleanup.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == record.id_hash))
        return None
    found = active_user(session, record.user_name, now, signed_in_at=aware(record.created_at))
    if found is None:
        return None
    actor, token_expires = found
    return SignedIn(actor=actor, expires_at=min(aware(record.expires_at), token_expires))
