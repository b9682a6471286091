"""Texts written by hand on the busiest paths, held equal to what the general tool writes: the per-cause
columns of a stored decision (``decision_causes.as_text``, against ``json.dumps``) and the path the request
log keeps (``deps.request_path``, against Starlette's ``request.url.path``)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from fangpin.api.deps import request_path
from fangpin.db import decision_causes

causes = st.text(min_size=1, max_size=12)
fen = st.integers(-(2**63), 2**63 - 1)


@given(st.dictionaries(causes, fen | st.booleans(), max_size=6))
def test_per_cause_text_is_json_dumps_of_the_integers(values: dict[str, int]) -> None:
    written = decision_causes.as_text(values)
    assert written == json.dumps({cause: int(value) for cause, value in values.items()}, separators=(",", ":"))
    assert decision_causes.of(written) == {cause: int(value) for cause, value in values.items()}


paths = (st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
         | st.from_regex(r"[a-z0-9/._~%-]{0,30}", fullmatch=True))  # any text, and plain paths


@given(paths, st.sampled_from(["", "x=1&y=%3F"]),
       st.sampled_from([None, "example.org", "example.org:8443", "[::1]:80"]))
def test_the_logged_path_is_starlettes(path: str, query: str, host: str | None) -> None:
    headers = [(b"host", host.encode())] if host else []
    scope = {"type": "http", "method": "POST", "scheme": "http", "server": ("127.0.0.1", 8000), "root_path": "",
             "path": "/" + path, "query_string": query.encode(), "headers": headers}
    assert request_path(Request(scope)) == Request(scope).url.path
