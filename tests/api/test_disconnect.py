"""A client that goes away before its request's body has arrived (a phone losing its signal, a load test
stopping) is an ordinary event: one line in the log, the write kept in the request log as 499, no server
error with a traceback (bench/api.py's runs printed one per client stopped mid-request)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa

from fangpin.db.claims_models import RequestLog
from fangpin.db.session import session_scope
from tests.api.conftest import Api


def test_a_client_gone_before_its_body_is_a_line_in_the_log_not_a_server_error(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/checks", "raw_path": b"/v1/checks", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"content-length", b"900"),
                    (b"authorization", f"Bearer {api.tokens['office']}".encode())],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }
    with caplog.at_level(logging.INFO):
        api.client.portal.call(api.client.app, scope, receive, send)  # type: ignore[union-attr]

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert any("disconnected" in record.getMessage() for record in caplog.records)
    with session_scope(api.database_url) as session:
        logged = session.execute(sa.select(RequestLog.who, RequestLog.method, RequestLog.path, RequestLog.status)
                                 .where(RequestLog.path == "/v1/checks")).all()
    assert [tuple(row) for row in logged] == [("office", "POST", "/v1/checks", 499)]
