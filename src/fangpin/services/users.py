"""Users and their bearer tokens: creating a user, and knowing who sends a token.

A token is stored only as its sha256 (``users.token_hash``). ``authenticate`` is the one place that turns a
token into an ``Actor``; the console's sign-in (``verify_login``) checks a token with the same hash. What
``authenticate`` found is remembered for a short while (``TOKEN_TTL`` seconds, at most ``TOKEN_CACHE``
tokens), so a busy client costs no lookup per request, while a change to a user reaches every process
within that time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangpin.claims import ROLES, Actor, Conflict, InvalidRequest, Unauthenticated
from fangpin.db.chained import append_one
from fangpin.db.claims_models import User

TOKEN_TTL = 60.0  # seconds a token once found is taken as valid without asking the database again
TOKEN_CACHE = 4096  # tokens remembered per process, the least recently used forgotten first


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def add_user(session: Session, name: str, role: str, county: str, *, at: dt.datetime | None = None) -> str:
    """Create a user; the bearer token, which is stored only as its sha256 and shown this once."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidRequest("name: between 1 and 100 characters", field="name")
    if role not in ROLES:
        raise InvalidRequest(f"role: {role!r} is not one of {', '.join(ROLES)}", field="role")
    if not re.fullmatch(r"\d{6}", county):
        raise InvalidRequest(f"county: {county!r} is not a six-digit county code", field="county")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"a user named {name!r} exists already")
    token = secrets.token_urlsafe(32)
    try:  # chained per county: who the user is and their role (db.chained)
        append_one(session, User, county, {"name": name, "role": role, "county": county,
                                           "token_hash": token_hash(token),
                                           "created_at": (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)})
    except IntegrityError:
        raise Conflict(f"a user named {name!r} exists already") from None
    return token


def _actor(user: User) -> Actor:
    return Actor(name=user.name, role=user.role, county=user.county)  # type: ignore[arg-type]


class TokenCache:
    """Actors by (database, token hash), each for ``ttl`` seconds, at most ``size`` of them."""

    def __init__(self, ttl: float = TOKEN_TTL, size: int = TOKEN_CACHE) -> None:
        self.ttl, self.size = ttl, size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], tuple[float, Actor]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Actor | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple[str, str], actor: Actor) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, actor)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


TOKENS = TokenCache()


def _key(session: Session, token: str) -> tuple[str, str]:
    return str(session.get_bind().engine.url), token_hash(token)


def remembered(session: Session, token: str | None) -> Actor | None:
    """The actor of a token ``authenticate`` found a moment ago, without asking the database (the API's
    event loop asks this first, and the thread pool only when it answers None)."""
    return TOKENS.get(_key(session, token)) if token else None


def authenticate(session: Session, token: str | None) -> Actor:
    """The user who sends this bearer token: 401 (``Unauthenticated``) without a token or for an unknown one."""
    if not token:
        raise Unauthenticated("send a bearer token: Authorization: Bearer <token> (fangpin users add)")
    key = _key(session, token)
    actor = TOKENS.get(key)
    if actor is not None:
        return actor
    user = session.scalars(select(User).where(User.token_hash == key[1])).first()
    if user is None:
        raise Unauthenticated("the bearer token belongs to no user")
    actor = _actor(user)
    TOKENS.put(key, actor)
    return actor


def verify_login(session: Session, name: str, token: str) -> Actor | None:
    """The console's sign-in: the user with this name whose token hashes to the stored hash, else None."""
    name, token = name.strip(), token.strip()
    if not name or not token or len(name) > 100 or len(token) > 500:
        return None
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None or not hmac.compare_digest(user.token_hash, token_hash(token)):
        return None
    return _actor(user)


def user_named(session: Session, name: str) -> Actor | None:
    user = session.scalars(select(User).where(User.name == name)).first()
    return None if user is None else _actor(user)
