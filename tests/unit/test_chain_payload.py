"""The hash-chain payload built column-wise (bulk appends) equals the one built row by row (verify)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.audit.chain import GENESIS, record_hash
from fangpin.db.chained import chained_columns, payload, payload_expr
from fangpin.db.models import Payment

texts = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("ab|\\N户编号 ,\"'\n\t€")), max_size=12))
amounts = st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62))


@settings(max_examples=200, deadline=None)
@given(county=texts, household=texts, cause=texts, paid=amounts, amount=amounts, decision=amounts, run=texts)
def test_column_wise_payloads_equal_row_payloads(county: str | None, household: str | None, cause: str | None,
                                                 paid: int | None, amount: int | None, decision: int | None,
                                                 run: str | None) -> None:
    recorded = dt.datetime(2026, 11, 23, 20, 1, 2, 345678, tzinfo=dt.UTC)
    row = {"county": county, "year": 2019, "household_id": household, "cause": cause, "paid_before": paid,
           "amount": amount, "decision_id": decision, "run_id": run, "seq": 7}
    frame = pl.DataFrame([row], schema={"county": pl.String, "year": pl.Int64, "household_id": pl.String,
                                        "cause": pl.String, "paid_before": pl.Int64, "amount": pl.Int64,
                                        "decision_id": pl.Int64, "run_id": pl.String, "seq": pl.Int64})

    column_wise = frame.select(payload_expr(Payment, {"recorded_at": recorded})).item()

    assert column_wise == payload(Payment, {**row, "recorded_at": recorded})


def test_a_naive_utc_time_read_back_from_sqlite_gives_the_same_payload_as_the_aware_time_written() -> None:
    aware = dt.datetime(2026, 11, 23, 20, 1, 2, tzinfo=dt.UTC)
    row = {name: None for name in chained_columns(Payment)}

    assert payload(Payment, {**row, "recorded_at": aware}) == payload(
        Payment, {**row, "recorded_at": aware.replace(tzinfo=None)}
    )


def test_a_null_and_the_text_backslash_n_do_not_collide() -> None:
    base = {name: None for name in chained_columns(Payment)}

    assert payload(Payment, base) != payload(Payment, {**base, "household_id": "\\N"})
    assert record_hash(GENESIS, "a") != record_hash(GENESIS, "b")


@settings(max_examples=100, deadline=None)
@given(secret=st.binary(min_size=32, max_size=100), previous=st.text(max_size=64), text=st.text(max_size=300))
def test_a_keyed_record_hash_is_hmac_sha256_of_the_link(secret: bytes, previous: str, text: str) -> None:
    import hashlib
    import hmac

    from fangpin.audit.keys import ChainKey

    expected = hmac.new(secret, f"{previous}\n{text}".encode(), hashlib.sha256).hexdigest()
    assert ChainKey(secret).link(previous, text) == expected
    assert ChainKey(secret).link(previous, text) != record_hash(previous, text)


@settings(max_examples=100, deadline=None)
@given(secret=st.binary(min_size=32, max_size=100), previous=st.text(max_size=64),
       texts=st.lists(st.text(max_size=300), max_size=20))
def test_many_keyed_links_at_once_are_the_links_one_after_the_other(secret: bytes, previous: str,
                                                                    texts: list[str]) -> None:
    from fangpin.audit.keys import ChainKey

    key = ChainKey(secret)
    expected, last = [], previous
    for text in texts:
        last = key.link(last, text)
        expected.append(last)
    assert [digest.decode() for digest in key.links(previous, [text.encode() for text in texts])] == expected


def test_a_keyed_decision_payload_holds_its_document_s_digest_not_the_document() -> None:
    from fangpin.db.chained import digest
    from fangpin.db.models import DecisionRecord

    document = {"head_name": "赵大山", "head_id": "13043419800101001X"}
    row = {name: None for name in chained_columns(DecisionRecord)} | {"document": document, "layout": 2}

    keyed, plain = payload(DecisionRecord, row), payload(DecisionRecord, row, keyed=False)
    purged = payload(DecisionRecord, {**row, "document": None, "document_sha256": digest(document)})

    assert "13043419800101001X" not in keyed and "13043419800101001X" in plain
    assert purged == keyed
