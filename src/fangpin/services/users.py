"""Users and their bearer tokens: creating, listing, disabling and enabling users, rotating their tokens, and
knowing who sends a token.

A token is stored only as its sha256 (``users.token_hash``) and is valid until ``users.expires_at``
(``token_days`` after it was issued, the setting FANGPIN_TOKEN_DAYS, default 90) unless its user is
disabled; rotating replaces it, so the old one belongs to no one at once. ``authenticate`` is the one place
that turns a token into an ``Actor``; the console's sign-in (``sign_in``) checks a token with the same hash
and the same rules, and each console request asks ``active_user``. What ``authenticate`` found is remembered
for a few seconds (``token_cache_seconds``, default 2, at most ``TOKEN_CACHE`` tokens, never past the token's
expiry), so a busy client costs no lookup per request, while a disabled, expired or rotated token is refused
by every process within those seconds.

Refused tokens and sign-ins are recorded and rate-limited by ``services.logins``.

Length: a user's lifecycle (add, disable, enable, rotate) and the two doors that check a token (``authenticate``
for the API, ``sign_in`` and ``active_user`` for the console) share one definition of a valid token (``state``,
``expiry``); kept in one module so that there is one place turning a token into an ``Actor``.
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
from collections.abc import Callable
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangpin.claims import ROLES, Actor, Conflict, InvalidRequest, NotFound, TooManyAttempts, Unauthenticated
from fangpin.config import get_settings
from fangpin.db.chained import append_one
from fangpin.db.claims_models import User
from fangpin.db.models import ConsoleSession
from fangpin.labels import ROLES as LABELS_ROLES
from fangpin.privacy import parse_scope
from fangpin.services import logins

TOKEN_CACHE = 4096  # tokens remembered per process, the least recently used forgotten first


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive (stored in UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _now(at: dt.datetime | None) -> dt.datetime:
    return _aware(at) if at is not None else dt.datetime.now(dt.UTC)


def _lifetime(days: int | None) -> dt.timedelta:
    return dt.timedelta(days=days if days is not None else get_settings().token_days)


# --- the users' lifecycle ----------------------------------------------------------------------------


def add_user(session: Session, name: str, role: str, county: str, *, at: dt.datetime | None = None,
             days: int | None = None, scope: str | None = None) -> str:
    """Create a user; the bearer token, valid for ``days`` (default: the setting ``token_days``), which is
    stored only as its sha256 and shown this once. ``scope`` (a township, or township/village) confines the
    user to the households of that place."""
    try:
        scope = "/".join(part for part in parse_scope(scope) or () if part) or None
    except ValueError as exc:
        raise InvalidRequest(f"范围(scope): {exc}", field="scope") from None
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidRequest("用户名(name): 应为 1 到 100 个字符", field="name")
    if role not in ROLES:
        raise InvalidRequest(f"角色(role): {role!r} 不是可用的角色,请从 "
                             f"{'、'.join(f'{code}({LABELS_ROLES.get(code, code)})' for code in ROLES)} 中选择",
                             field="role")
    if not re.fullmatch(r"\d{6}", county):
        raise InvalidRequest(f"县(区)代码(county): {county!r} 不是六位数字的县(区)代码,如 130434", field="county")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"已有名为 {name!r} 的用户:请换一个用户名")
    now = _now(at)
    token = secrets.token_urlsafe(32)
    try:  # chained per county: who the user is, their role and scope (db.chained)
        append_one(session, User, county, {"name": name, "role": role, "county": county, "scope": scope,
                                           "token_hash": token_hash(token), "created_at": now,
                                           "expires_at": now + _lifetime(days)})
    except IntegrityError:
        raise Conflict(f"已有名为 {name!r} 的用户:请换一个用户名") from None
    return token


def expiry(user: User) -> dt.datetime:
    """When the user's token stops: ``expires_at``, or (a row written by hand without one) ``token_days``
    after the user was created."""
    if user.expires_at is not None:
        return _aware(user.expires_at)
    return _aware(user.created_at) + _lifetime(None)


def state(user: User, at: dt.datetime) -> str:
    """``disabled``, ``expired`` or ``active``."""
    if user.disabled_at is not None:
        return "disabled"
    return "expired" if expiry(user) <= _aware(at) else "active"


@dataclass(frozen=True)
class UserView:
    """A user as ``fangpin users list`` shows them: never the token or its hash."""

    name: str
    role: str
    county: str
    created_at: dt.datetime
    expires_at: dt.datetime
    disabled_at: dt.datetime | None
    rotated_at: dt.datetime | None
    state: str


def _view(user: User, at: dt.datetime) -> UserView:
    return UserView(name=user.name, role=user.role, county=user.county, created_at=_aware(user.created_at),
                    expires_at=expiry(user), disabled_at=None if user.disabled_at is None else _aware(user.disabled_at),
                    rotated_at=None if user.rotated_at is None else _aware(user.rotated_at), state=state(user, at))


def list_users(session: Session, *, at: dt.datetime | None = None) -> list[UserView]:
    """Every user, by county and name, with the state of their token at ``at`` (default: now)."""
    now = _now(at)
    return [_view(user, now) for user in session.scalars(select(User).order_by(User.county, User.name))]


def _named(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name.strip())).first()
    if user is None:
        raise NotFound(f"没有名为 {name.strip()!r} 的用户(fangpin users list 列出全部用户)")
    return user


def describe_user(session: Session, name: str, *, at: dt.datetime | None = None) -> UserView:
    """One user as ``list_users`` shows them; ``NotFound`` for an unknown name."""
    return _view(_named(session, name), _now(at))


def _end_console_sessions(session: Session, name: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_name == name))


def disable_user(session: Session, name: str, *, at: dt.datetime | None = None) -> UserView:
    """Refuse the user's token from now on, and end their console sessions. Disabling a disabled user changes
    nothing."""
    user = _named(session, name)
    now = _now(at)
    if user.disabled_at is None:
        user.disabled_at = now
    _end_console_sessions(session, user.name)
    session.flush()
    return _view(user, now)


def enable_user(session: Session, name: str, *, at: dt.datetime | None = None) -> UserView:
    """Accept a disabled user's token again (until it expires; ``rotate_token`` issues a new one)."""
    user = _named(session, name)
    user.disabled_at = None
    session.flush()
    return _view(user, _now(at))


def rotate_token(session: Session, name: str, *, at: dt.datetime | None = None, days: int | None = None) -> str:
    """A new token for the user, valid for ``days`` (default: ``token_days``) from now; the old one belongs to
    no one from the commit on, and the user's console sessions end. A disabled user stays disabled."""
    user = _named(session, name)
    now = _now(at)
    token = secrets.token_urlsafe(32)
    user.token_hash = token_hash(token)
    user.rotated_at = now
    user.expires_at = now + _lifetime(days)
    _end_console_sessions(session, user.name)
    session.flush()
    return token


# --- who sends a token -------------------------------------------------------------------------------


def _actor(user: User) -> Actor:
    return Actor(name=user.name, role=user.role, county=user.county, scope=user.scope)  # type: ignore[arg-type]


class TokenCache:
    """Actors by (database, token hash), each for ``ttl`` seconds (default: the setting
    ``token_cache_seconds``) and never past its token's expiry, at most ``size`` of them."""

    def __init__(self, ttl: float | None = None, size: int = TOKEN_CACHE) -> None:
        self._ttl, self.size = ttl, size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], tuple[float, dt.datetime | None, Actor]] = OrderedDict()

    @property
    def ttl(self) -> float:
        if self._ttl is None:
            self._ttl = get_settings().token_cache_seconds
        return self._ttl

    def get(self, key: tuple[str, str], at: dt.datetime | None = None) -> Actor | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            deadline, expires, actor = item
            if deadline <= time.monotonic() or (expires is not None and at is not None and expires <= _aware(at)):
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return actor

    def put(self, key: tuple[str, str], actor: Actor, expires: dt.datetime | None = None) -> None:
        ttl = self.ttl
        if ttl <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, expires, actor)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


TOKENS = TokenCache()


_DATABASES: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def database_name(session: Session) -> str:
    """The session's database as the process's caches name it: ``str`` of its URL (password hidden), worked
    out once per engine (rendering a URL costs more than the lookups it names)."""
    engine = session.get_bind().engine
    name = _DATABASES.get(engine)
    if name is None:
        name = _DATABASES[engine] = str(engine.url)
    return name


def _key(session: Session, token: str) -> tuple[str, str]:
    return database_name(session), token_hash(token)


def remembered(session: Session, token: str | None, at: dt.datetime | None = None) -> Actor | None:
    """The actor of a token ``authenticate`` found a moment ago, without asking the database (the API's
    event loop asks this first, and the thread pool only when it answers None)."""
    return TOKENS.get(_key(session, token), at) if token else None


_REFUSED = {
    "unknown_token": "令牌不属于任何用户(换发后旧令牌立即失效):请使用最新的令牌",
    "disabled": "令牌所属的用户已被停用:请管理员用 fangpin users enable 重新启用",
    "expired": "令牌已过期:请管理员用 fangpin users rotate 换发新令牌",
}


def _refusal(user: User | None, at: dt.datetime) -> str | None:
    if user is None:
        return "unknown_token"
    found = state(user, at)
    return None if found == "active" else found


def authenticate(session: Session, token: str | None, *, at: dt.datetime | None = None, address: str | None = None,
                 sessions: Callable[[], Session] | None = None) -> Actor:
    """The user who sends this bearer token at ``at`` (default: now): 401 (``Unauthenticated``) without a token,
    or for one that is unknown, rotated, expired or of a disabled user. With ``sessions`` (a factory for a
    transaction of its own), a refused token is recorded as a failed attempt from ``address``, and an address
    with too many recent failures is answered 429 (``TooManyAttempts``) instead."""
    if not token:
        raise Unauthenticated("请求未带令牌:请在请求头中写 Authorization: Bearer <令牌>(令牌由 fangpin users add 发放)")
    now = _now(at)
    key = _key(session, token)
    actor = TOKENS.get(key, now)
    if actor is not None:
        return actor
    user = session.scalars(select(User).where(User.token_hash == key[1])).first()
    reason = _refusal(user, now)
    if user is not None and reason is None:
        actor = _actor(user)
        TOKENS.put(key, actor, expiry(user))
        return actor
    assert reason is not None
    if sessions is not None:
        _refuse_api(session, sessions, user, reason, address, now)
    raise Unauthenticated(_REFUSED[reason])


def _refuse_api(session: Session, sessions: Callable[[], Session], user: User | None, reason: str,
                address: str | None, now: dt.datetime) -> None:
    until = logins.locked(session, name=None, address=address, at=now) if address is not None else None
    outcome = "failed" if until is None else "locked"
    logins.record_apart(sessions, logins.Attempt(at=now, channel="api", name=None if user is None else user.name,
                                                 address=address, outcome=outcome, reason=reason))
    if until is not None:
        raise TooManyAttempts(f"来自 {address} 的无效令牌过多:请于 "
                              f"{until.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y-%m-%d %H:%M}(北京时间)后再试",
                              until=until)


@dataclass(frozen=True)
class SignIn:
    """What the console's sign-in found: the actor, or why not (in Chinese, then English) and, when the name or
    address is locked, until when."""

    actor: Actor | None
    message: str | None = None
    until: dt.datetime | None = None
    token_expires: dt.datetime | None = None  # a console session opened now ends by then at the latest


_SIGN_IN_REFUSED = {
    "unknown_user": "用户名或令牌不正确:请核对后重新输入",
    "wrong_token": "用户名或令牌不正确:请核对后重新输入",
    "disabled": "该用户已被停用:请联系管理员",
    "expired": "令牌已过期:请管理员用 fangpin users rotate 换发新令牌",
}


def sign_in(session: Session, name: str, token: str, *, address: str | None, at: dt.datetime | None = None,
            policy: logins.Policy | None = None) -> SignIn:
    """The console's sign-in: the user with this name whose token hashes to the stored hash and is neither
    expired nor disabled. Every attempt is recorded in the session's transaction (the caller commits); a name
    or address with too many recent failures is refused before the token is looked at."""
    now = _now(at)
    name, token = name.strip()[:100], token.strip()
    until = logins.locked(session, name=name or None, address=address, at=now, policy=policy)
    if until is not None:
        logins.record(session, logins.Attempt(at=now, channel="console", name=name or None, address=address,
                                              outcome="locked"))
        local = until.astimezone(dt.timezone(dt.timedelta(hours=8)))
        return SignIn(None, f"登录失败次数过多,请于 {local:%H:%M}(北京时间)后再试", until)
    user = session.scalars(select(User).where(User.name == name)).first() if name else None
    if user is None:
        reason: str | None = "unknown_user"
    elif not token or len(token) > 500 or not hmac.compare_digest(user.token_hash, token_hash(token)):
        reason = "wrong_token"
    else:
        reason = _refusal(user, now)
    logins.record(session, logins.Attempt(at=now, channel="console", name=name or None, address=address,
                                          outcome="failed" if reason else "ok", reason=reason))
    if reason is not None or user is None:
        return SignIn(None, _SIGN_IN_REFUSED[reason or "unknown_user"])
    return SignIn(_actor(user), token_expires=expiry(user))


def active_user(session: Session, name: str, at: dt.datetime, *,
                signed_in_at: dt.datetime | None = None) -> tuple[Actor, dt.datetime] | None:
    """The user of this name and when their token expires, or None if there is none, or they are disabled or
    expired at ``at``, or their token was rotated after ``signed_in_at`` (asked on every console request)."""
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None or state(user, at) != "active":
        return None
    if signed_in_at is not None and user.rotated_at is not None and _aware(user.rotated_at) > _aware(signed_in_at):
        return None
    return _actor(user), expiry(user)
