"""100,000 rejected rows reach the browser a page at a time: filtered and sliced on the server. (How long a
page takes is a benchmark's business, not a test's.)"""

from __future__ import annotations

import polars as pl
import pytest

from fangpin.services.screening import ScreenRequest, screen
from tests.support import COUNTY, DEMO
from tests.web.conftest import Console, text_of

ROWS = 100_000
REASONS = ["bad_id_number", "bad_amount", "bad_date", "unknown_person"]


@pytest.fixture
def big_run(console: Console) -> str:
    """The demo drop screened, its rejections.csv replaced by 100,000 rows over four files and reasons."""
    result = screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=console.database_url,
                                  runs_dir=console.runs_dir))
    assert result.out_dir is not None
    pl.DataFrame({
        "file": [f"医保结算{i % 4}.csv" for i in range(ROWS)],
        "row": [i + 2 for i in range(ROWS)],
        "field": ["id_number"] * ROWS,
        "value": [f"13043419800101{i:06d}" for i in range(ROWS)],
        "reason": [REASONS[i % 4] for i in range(ROWS)],
    }).write_csv(result.out_dir / "rejections.csv")
    return str(result.run["run_id"])


def test_a_page_of_100000_rejected_rows_is_served_without_the_rest(console: Console, big_run: str) -> None:
    office = console.login("office")
    response = office.get(f"/console/api/runs/{big_run}/rejections", params={"page": 1234, "size": 50})
    page = response.json()

    assert (page["total"], page["pages"], page["page"], page["size"]) == (ROWS, 2000, 1234, 50)
    assert [item["row"] for item in page["items"]] == list(range(1233 * 50 + 2, 1234 * 50 + 2))
    assert len(response.content) < 20_000  # one page of 50 rows, not the 100,000

    last = office.get(f"/console/api/runs/{big_run}/rejections", params={"page": 10**6, "size": 200}).json()
    assert last["page"] == 500 and len(last["items"]) == 200 and last["items"][-1]["row"] == ROWS + 1

    filtered = office.get(f"/console/api/runs/{big_run}/rejections",
                          params={"reason": "bad_date", "file": "医保结算2.csv", "size": 10}).json()
    assert filtered["total"] == ROWS // 4
    assert {(i["reason"], i["file"]) for i in filtered["items"]} == {("bad_date", "医保结算2.csv")}
    nothing = office.get(f"/console/api/runs/{big_run}/rejections", params={"reason": "blank"}).json()
    assert (nothing["total"], nothing["items"], nothing["pages"]) == (0, [], 1)


def test_the_rejections_page_renders_one_page_of_rows(console: Console, big_run: str) -> None:
    office = console.login("office")
    response = office.get(f"/console/runs/{big_run}/rejections", params={"page": 3, "size": 100})

    assert response.status_code == 200
    assert response.text.count("<tr><td>医保结算") == 100
    assert "13043419800101000200" in response.text and "13043419800101000300" not in response.text  # rows 201-300
    assert len(response.content) < 150_000
    text = text_of(response.text)
    assert "共 100,000 行,第 3 / 1,000 页" in text
    assert "身份证号校验失败 · 25,000" in text  # the filter's choices, with their counts
    assert "bad_id_number" not in text and "id_number" not in text  # codes only in tooltips and links
    download = office.get(f"/console/runs/{big_run}/rejections.csv", params={"reason": "unknown_person"})
    assert download.status_code == 200 and download.text.count("\n") == ROWS // 4 + 1
