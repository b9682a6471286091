"""The office weighs a policy change in the console, in headless chromium: it uploads a draft pack, simulates
its run under it (a job the worker runs; the job's page follows it) and reads the charts (township bars, the
flows, the bands)."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_simulations import draft_zip
from tests.e2e.conftest import Visitor
from tests.e2e.test_console import ALL_CHARTS_READY


def test_upload_a_draft_simulate_the_run_and_see_the_charts(demo_run: str, visitors: dict[str, Visitor],
                                                            tmp_path: Path) -> None:
    office = visitors["office"]
    page = office.page
    office.goto("/console/simulate")
    archive = tmp_path / "draft-edge.zip"
    archive.write_bytes(draft_zip())
    page.set_input_files("#draft-upload input[type=file]", str(archive))
    page.click("#draft-upload button[type=submit]")
    page.wait_for_selector("#draft-stored")
    office.shot("30-simulate-draft-stored")

    page.select_option("#simulate-form select[name=run]", demo_run)
    assert "draft-edge" in page.inner_text("#simulate-form select[name=pack] option:checked")
    page.click("#simulate-form button[type=submit]")  # queued as a job: its page reloads itself until done
    page.wait_for_url("**/console/simulate/jobs/*")
    page.wait_for_selector("#simulate-result", timeout=120_000)
    page.wait_for_function(ALL_CHARTS_READY, arg=3)
    page.wait_for_timeout(1200)  # the charts' entry animation
    office.shot("31-simulate-draft-result")
    office.shot("32-simulate-draft-full", full_page=True)
    for chart in ("simTownships", "simFlows", "simBands"):
        office.shot_of(f"[data-chart={chart}]", f"33-chart-{chart}")
    assert "因病起付线(非贫低收入户)" in page.inner_text("#simulate-attribution")
    assert page.locator("[data-chart] canvas").count() == 3
    office.clean()
