"""What fangpin prints for people at a terminal: Chinese first with the English beside it (an engineer reads the
English, a clerk the Chinese), amounts as accountants write them (176,550.08), and ids never cut.

A table is printed only when it fits the console's width (``COLUMNS``, 80 when piped); otherwise each row
becomes a block: its ids on a line of their own, whole, then the other cells as ``heading value`` pairs,
wrapped between pairs, never inside a number or an id. Reasons, outcomes, departments and stages keep their
labels where they are (``reports.labels``, ``web.labels``); this module holds only the table headings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, cast

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from fangpin.money import fen_grouped, format_yuan_grouped, to_decimal

# Terminal headings: the English word an engineer knows → the Chinese a clerk reads.
TERMS = {
    "run": "运行编号", "county": "县(区)", "year": "年度", "pack": "规则包", "households": "户数",
    "payout": "赔付", "fee": "服务费", "finished": "完成时间", "version": "版本", "years": "适用年度",
    "folder": "目录", "file": "文件", "department": "部门", "read": "读取", "used": "使用", "rejected": "拒绝",
    "skipped": "跳过", "reasons": "原因", "outcome": "结果", "all": "合计", "household": "户编号",
    "cause": "项目", "before": "前", "after": "后", "difference": "差额", "accounted for by": "原因(参数/规则)",
    "parameter": "参数", "base": "计算基数", "deductible": "起付线", "excess": "超出部分", "owed": "应赔",
    "paid now": "本次赔付", "tiers": "阶梯计算", "rule": "规则", "says": "规则内容与依据条款",
    "households changed": "变化户数", "yuan": "元",
}

_AMOUNT = re.compile(r"-?\d+\.\d{2}")

Justify = Literal["left", "right", "center"]


def term(english: str) -> str:
    """A heading, Chinese first: ``term("payout")`` → "赔付 payout"."""
    return f"{TERMS[english]} {english}" if english in TERMS else english


def yuan(value: str | Decimal | None) -> str:
    """A yuan amount (exact text such as run.json's "176550.08", or a Decimal) grouped: "176,550.08"."""
    if value is None or value == "":
        return "—"
    return format_yuan_grouped(to_decimal(value))


def amount_or_text(value: str | None) -> str:
    """A value that is an amount in the result files' form ("4800.00") grouped; anything else as it is."""
    if not value:
        return "—"
    return yuan(value) if _AMOUNT.fullmatch(value) else value


def fen(value: int | None) -> str:
    """Integer fen grouped as yuan: 17655008 → "176,550.08"."""
    return "—" if value is None else fen_grouped(value)


def print_records(console: Console, title: str, columns: Sequence[tuple[str, str]],
                  rows: Sequence[Sequence[str]], *, keys: Sequence[int] = (0,), styles: Sequence[str] = ()) -> None:
    """Rows as a table if it fits the console, else as blocks whose key cells (ids) stand whole on their own
    line. ``columns`` are (heading, justify); ``styles`` optionally one per row (e.g. "bold" for a total)."""
    table = Table(title=title or None)
    for index, (heading, justify) in enumerate(columns):
        table.add_column(heading, justify=cast(Justify, justify), no_wrap=index in keys)
    for index, row in enumerate(rows):
        table.add_row(*row, style=(styles[index] if index < len(styles) else "") or None)
    if console.measure(table, options=console.options.update(max_width=100_000)).maximum <= console.width:
        console.print(table)
        return
    if title:
        console.print(Text(title, style="bold"))
    for index, row in enumerate(rows):
        if keys:
            key = " ".join(row[i] for i in keys if row[i]) or "—"
            console.print(Text(key, style=(styles[index] if index < len(styles) else "") or "bold"),
                          soft_wrap=True, highlight=False)
        pairs = [f"{columns[i][0]} {' '.join(row[i].split())}" for i in range(len(columns))
                 if i not in keys and row[i]]
        console.print(Padding(Text(" · ".join(pairs)), (0, 0, 0, 4)), highlight=False)


def print_lines(console: Console, lines: Sequence[str]) -> None:
    """Lines that must never be wrapped inside (ids, hashes, tier arithmetic): printed as they are."""
    for line in lines:
        console.print(Text(line), soft_wrap=True, highlight=False)
