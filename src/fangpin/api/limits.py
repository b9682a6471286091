"""Limits on request bodies, enforced before a body is read and before anyone is signed in (docs/limits.md).

A pure ASGI middleware: a request whose ``Content-Length`` is over its limit is answered 413 at once, its
body never read; a body sent without a length (chunked) is counted as it streams and cut off at the limit,
with the same 413 whatever the route behind was doing with it. The console's upload (multipart to
``/console/screening``) has the upload limit; every other body (API JSON, console forms) the small one.
An upload without the console's session cookie is refused (401) before a byte of it is read; the route
checks the session itself before parsing the form (``web.routes.screening``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATHS = ("/console/screening",)
SESSION_COOKIE = "fangpin_console"  # web.auth.COOKIE (the API layer does not import the console)


class BodyTooLarge(Exception):
    """The body streamed past its limit; raised to whoever was reading it."""


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB" if size >= 1 << 20 else f"{size / 1024:g} KiB"


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, content_type, cookie = _headers(scope["headers"])
        upload = scope["path"].rstrip("/") in UPLOAD_PATHS and content_type.lower().startswith("multipart/form-data")
        limit = self.max_upload if upload else self.max_body
        if length is not None:
            if not length.strip().isdigit():
                await _answer(send, 400, "请求头 Content-Length 不是数字")
                return
            if int(length) > limit:
                await _answer(send, 413, f"请求内容 {_mib(int(length))},过大: {_what(upload, limit)}")
                return
        if upload and f"{SESSION_COOKIE}=" not in cookie:
            await _answer(send, 401, "未登录或会话已过期:请先登录再上传")
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS") and length is None:
            await self.app(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(_what(upload, limit))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the route answers to a body cut off, the answer is 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _answer(send, 413, f"请求内容过大: {_what(upload, limit)}")


def _headers(raw: list[tuple[bytes, bytes]]) -> tuple[str | None, str, str]:
    """Content-Length (None if absent), Content-Type and Cookie, as the last of each sent (as a dict of all
    the headers would have them), decoded only these three."""
    length: bytes | None = None
    content_type = cookie = b""
    for key, value in raw:
        name = key.lower()
        if name == b"content-length":
            length = value
        elif name == b"content-type":
            content_type = value
        elif name == b"cookie":
            cookie = value
    return (None if length is None else length.decode("latin-1"), content_type.decode("latin-1"),
            cookie.decode("latin-1"))


def _what(upload: bool, limit: int) -> str:
    """What the limit is and what to do, for the refusal (built only for one)."""
    return (f"一次上传的全部文件合计不能超过 {_mib(limit)}(设置项 max_upload_request_mb):请分批上传或"
            "请管理员调高上限" if upload
            else f"请求内容不能超过 {_mib(limit)}(设置项 max_body_kb):请减少内容后重试")


_TITLES = {400: "Bad Request", 401: "Unauthorized", 413: "Content Too Large"}


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": _TITLES.get(status, "Error"),
                       "status": status, "detail": detail}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
