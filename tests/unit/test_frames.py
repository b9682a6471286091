"""Frames kept while others come and go own their text (fangpin.frames.detached)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import polars as pl

from fangpin.frames import detached


def test_a_detached_copy_is_the_same_frame_with_the_same_types() -> None:
    frame = pl.DataFrame({
        "text": ["a", None, "很长的中文字符串,超过十二个字节"],
        "date": [dt.date(2020, 1, 1), None, dt.date(2021, 2, 3)],
        "flag": [True, None, False], "fen": [1, 2, None], "amount": [Decimal("1.20"), None, Decimal("3.45")],
    })
    assert detached(frame).equals(frame) and detached(frame).schema == frame.schema
    assert detached(frame.clear()).schema == frame.schema


KEEP_A_TENTH = """
import gc, sys, time
import fangpin  # its allocator settings, before polars
import polars as pl
from fangpin.frames import detached

def anon():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssAnon")) // 1024

whole = pl.DataFrame({"id": [f"13043419{n:010d}X 家庭成员信息表第{n}行" for n in range(2_000_000)]})
kept = whole.filter(pl.col("id").str.ends_with("7行"))  # a tenth of the rows
if sys.argv[1] == "detached":
    kept = detached(kept)
before = anon()
del whole
gc.collect()
freed = before - anon()
for _ in range(16):  # freed pages go back after a second (fangpin/__init__.py), by the allocator's own thread
    if freed > 80:
        break
    time.sleep(0.25)
    freed = max(freed, before - anon())
print(freed)
"""


def test_rows_kept_from_a_large_frame_let_its_text_go_only_when_detached() -> None:
    """The reason for ``detached``: filtered rows of a string column point into the whole column's buffers
    (polars' string views), so keeping them keeps the whole text; their detached copy does not."""
    freed = {how: int(subprocess.run([sys.executable, "-c", KEEP_A_TENTH, how], capture_output=True, text=True,
                                     check=True).stdout) for how in ("filtered", "detached")}
    assert freed["detached"] > 80  # MiB: the text of 2M rows (~90 MB) goes with them
    assert freed["filtered"] < freed["detached"] / 2
