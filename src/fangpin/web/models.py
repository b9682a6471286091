"""The console's own table: browser sessions. Only the sha256 of a session's id is stored, like the API's
tokens, so a copy of the database opens no session."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.db.models import Base


class ConsoleSession(Base):
    """One signed-in browser: whose it is, and until when it is valid. Logging out deletes it."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires", "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
