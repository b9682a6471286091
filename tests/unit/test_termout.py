"""What the terminal shows: a table when it fits, else blocks whose ids stand whole on a line of their own."""

from __future__ import annotations

import io

from rich.console import Console

from fangpin.termout import amount_or_text, print_records, term, yuan

RUN_ID = "130434-2019-20261201T055225-ea234b"
COLUMNS = [(term("run"), "left"), (term("county"), "left"), (term("payout"), "right"), (term("fee"), "right")]


def _printed(width: int) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None)
    row = [RUN_ID, "130434", yuan("176550.08"), yuan("26482.54")]
    print_records(console, "筛查运行 screening runs", COLUMNS, [row])
    return buffer.getvalue().splitlines()


def test_a_table_that_fits_is_printed_as_a_table() -> None:
    lines = _printed(160)

    assert any(RUN_ID in line and "176,550.08" in line for line in lines)


def test_a_table_too_wide_becomes_blocks_with_the_id_whole_on_its_own_line() -> None:
    lines = _printed(40)

    assert RUN_ID in [line.strip() for line in lines]
    assert any("176,550.08" in line for line in lines)
    assert all("…" not in line for line in lines)


def test_headings_are_chinese_first_and_amounts_grouped() -> None:
    assert term("payout") == "赔付 payout"
    assert yuan("36105000.00") == "36,105,000.00"
    assert amount_or_text("4800.00") == "4,800.00" and amount_or_text("0.5") == "0.5"
    assert amount_or_text(None) == "—"
