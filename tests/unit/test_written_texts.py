"""What the check path does by hand, held equal to what the general tool gives: the per-cause columns of a
stored decision (``decision_causes.as_text``, against ``json.dumps``), the path the request log keeps
(``deps.request_path``, against Starlette's ``request.url.path``) and an event's amount (``facts.money``,
against pydantic's ``Money``)."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from fangpin.api.deps import request_path
from fangpin.db import decision_causes
from fangpin.facts import Money, money

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


_MONEY: TypeAdapter[Decimal] = TypeAdapter(Money)


def _through_pydantic(value: object) -> Decimal | str:
    try:
        return _MONEY.validate_python(value)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def _direct(value: object) -> Decimal | str:
    try:
        return money(value)
    except ValueError as exc:
        return str(exc)


amounts = (st.decimals(allow_nan=True, allow_infinity=True) | st.integers() | st.floats() | st.booleans()
           | st.none() | st.text(max_size=12) | st.decimals(places=2, min_value=0, max_value=10**9).map(str)
           | st.lists(st.integers(), max_size=2))


@given(amounts)
def test_an_events_amount_is_read_as_the_documents_money_type_reads_it(value: object) -> None:
    """``facts.money`` (what a pack's money fields are read with) gives pydantic's ``Money``: the same
    amount, or the same message."""
    got, expected = _direct(value), _through_pydantic(value)
    assert got == expected and type(got) is type(expected)
    if isinstance(got, Decimal):
        assert isinstance(expected, Decimal) and got.as_tuple() == expected.as_tuple()  # the same places
