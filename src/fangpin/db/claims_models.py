"""Tables of the HTTP API: users, claims and their append-only history, the request log, fiscal inputs.

Money is integer fen (BigInteger). A claim's history (``claim_events``) is a hash chain per county, like
decisions and payments; no code path updates or deletes an event. The claim row itself is the only thing
that changes: its ``state`` and ``version`` (a version-checked UPDATE), and the amounts set once by the
step that decides them (``amount_decided`` at filing, ``amount_paid`` and ``fee`` at payment).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.db.models import Base, Chained, ChainedLater

_ID = BigInteger().with_variant(Integer, "sqlite")


class User(ChainedLater, Base):
    """Someone who may call the API: a role, a county, and the sha256 of their bearer token, valid until
    ``expires_at`` unless disabled (``disabled_at``); ``rotated_at`` is when the token was last replaced
    (migration 0005). An ``expires_at`` left empty by hand counts from ``created_at`` (``services.users``).
    Who they are (name, role, county, scope, since when) is chained per county; the token and its lifecycle
    are not."""

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_chain", "county", "seq", unique=True),)
    __chained__ = ("name", "role", "county", "scope", "created_at", "seq")

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    county: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    scope: Mapped[str | None] = mapped_column(String(200))  # township or township/village (fangpin.privacy)


class LoginAttempt(Base):
    """One sign-in to the console, or one API request with a bearer token that was refused (migration 0005):
    when, through which door (``console`` | ``api``), the name tried (none for an API token that belongs to no
    one), from which address, and how it ended (``ok`` | ``failed`` | ``locked``) and why. Never the token.
    Failures of a name or an address within a window lock further attempts (``services.logins``)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name", "name", "at"),
        Index("ix_login_attempts_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(10))
    name: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(20))


class Claim(Base):
    """One household's claim for one policy year, on its way along the path of docs/policy.md section 6."""

    __tablename__ = "claims"
    __table_args__ = (
        Index("ix_claims_place", "county", "year", "state"),
        Index("ix_claims_household", "county", "year", "household_id"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    county: Mapped[str] = mapped_column(String(12))
    township: Mapped[str | None] = mapped_column(String(100))
    village: Mapped[str | None] = mapped_column(String(100))
    household_id: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    opened_by: Mapped[str] = mapped_column(String(20))  # screening | application
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    filing_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    amount_decided: Mapped[int | None] = mapped_column(BigInteger)  # fen, re-decided at filing
    amount_paid: Mapped[int | None] = mapped_column(BigInteger)  # fen
    fee: Mapped[int | None] = mapped_column(BigInteger)  # fen, the insurer's fee on the amount paid
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ClaimEvent(Chained, Base):
    """One step of a claim's path, with who took it, when, and what it records. Append-only, chained."""

    __tablename__ = "claim_events"
    __table_args__ = (UniqueConstraint("county", "seq", name="uq_claim_events_chain"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    county: Mapped[str] = mapped_column(String(12))
    step: Mapped[str] = mapped_column(String(20))  # the state the claim moved to
    from_state: Mapped[str | None] = mapped_column(String(20))
    who: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class RequestLog(Base):
    """Every request that changes something (or tried to): who, when, what, and the answer."""

    __tablename__ = "request_log"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    who: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)


class AccessLog(Base):
    """Every read of personal data: who (name, role, county), when, what kind of thing (household,
    decision, claim, run, file, search, ...), which one, the household it concerns, the route and the
    answer's status. Append-only: no code path updates or deletes a row. A search keeps the masked form of
    what was searched (``privacy.query_trace``), never an ID number in clear."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_household", "county", "household_id"),
        Index("ix_access_log_who", "who", "at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    who: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    county: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str | None] = mapped_column(String(200))
    household_id: Mapped[str | None] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)


class FundInput(ChainedLater, Base):
    """Money the county's fiscal budget put into the fund for a year; several inputs add up. Chained.

    Since migration 0009 each input says the day the money came (``paid_on``) and what for (``purpose``); a
    correction is an input of its own that names the one it corrects (``corrects_id``) and holds the
    difference (negative to reverse): an input is never edited. Inputs recorded before have none of these,
    and keep the chain payload they were hashed with (``__chained_later__``, ``db.chained``)."""

    __tablename__ = "fund_inputs"
    __table_args__ = (Index("ix_fund_inputs_county_year", "county", "year"),
                      Index("uq_fund_inputs_chain", "county", "seq", unique=True))
    __chained__ = ("county", "year", "amount", "recorded_by", "at", "seq", "paid_on", "purpose", "corrects_id")
    __chained_later__ = ("paid_on", "purpose", "corrects_id")

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    county: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    recorded_by: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    paid_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    corrects_id: Mapped[int | None] = mapped_column(_ID, nullable=True)  # the input this one corrects
