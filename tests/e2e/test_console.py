"""The county office's day in the console, in headless chromium at 1366×768: sign in, drag the demo drop in,
follow the run to its report, open a household, move a claim one step as the right role and fail as the
wrong one, replay a run, look at the fund, page through 100,000 rejected rows. Each page is saved as a
screenshot in tests/e2e/artifacts/ (the number in a screenshot's name orders the day, not the tests). Each
test starts from a server of its own (tests/e2e/conftest.py): a test that needs the demo drop screened
asks for ``demo_run``, one that needs a claim opens it; none depends on another having run."""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path

import polars as pl
from sqlalchemy import select

from fangpin.db.claims_models import Claim
from fangpin.db.session import session_scope
from tests.e2e.conftest import Server, Visitor
from tests.support import DEMO

ALL_CHARTS_READY = "n => document.querySelectorAll('[data-chart][data-ready=\"1\"]').length === n"
MIME = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAIN_FRAME_REFUSED = ("the server responded with a status of 403",)


def test_sign_in_with_a_wrong_then_the_right_token(browser: object, server: Server,
                                                      visitors: dict[str, Visitor]) -> None:
    visitor = Visitor(browser, server)
    try:
        visitor.goto("/console/claims")
        assert "/console/login?next=" in visitor.page.url
        visitor.shot("01-login")
        visitor.page.fill("input[name=name]", "office1")
        visitor.page.fill("input[name=token]", "not-the-token")
        visitor.page.click("button[type=submit]")
        assert "用户名或令牌不正确" in visitor.page.inner_text(".note.error")
        visitor.shot("02-login-refused")
        visitor.page.fill("input[name=token]", server.tokens["office"])
        visitor.page.click("button[type=submit]")
        visitor.page.wait_for_url(server.url + "/console/claims")
        visitor.clean(allowed=("status of 401",))
    finally:
        visitor.close()
    office = visitors["office"]
    office.goto("/console")
    assert "office1 · 防贫办 · 魏县 (130434)" in office.page.inner_text("header")
    office.shot("03-home-office")
    auditor = visitors["auditor"]
    auditor.goto("/console/screening")
    assert "无权" in auditor.page.inner_text("main")
    auditor.shot("04-auditor-may-not-screen")
    office.clean()
    auditor.clean(allowed=MAIN_FRAME_REFUSED)


def test_drag_the_demo_drop_in_and_follow_the_run_to_its_report(server: Server,
                                                                   visitors: dict[str, Visitor]) -> None:
    office = visitors["office"]
    page = office.page
    office.goto("/console/screening")
    files = [{"name": path.name, "type": MIME[path.suffix], "data": base64.b64encode(path.read_bytes()).decode()}
             for path in sorted(DEMO.iterdir())]
    dropped = page.evaluate_handle("""files => {
        const transfer = new DataTransfer();
        for (const f of files) {
            const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
            transfer.items.add(new File([bytes], f.name, {type: f.type}));
        }
        return transfer;
    }""", files)
    page.dispatch_event("#drop-zone", "dragenter", {"dataTransfer": dropped})
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
    assert page.locator("#file-list li").count() == len(files) == 7
    page.select_option("select[name=year]", "2019")
    office.shot("05-upload-files-dropped")

    page.click("#start-button")
    page.wait_for_url("**/console/screening/jobs/*")
    page.wait_for_selector("#report-link", timeout=120_000)
    assert page.locator(".stages li.done").count() == 8, page.inner_html(".stages")
    office.shot("06-screening-progress-done")

    page.click("#report-link")
    page.wait_for_url("**/console/runs/*")
    run_id = page.url.rsplit("/", 1)[1]
    page.wait_for_function(ALL_CHARTS_READY, arg=3)
    page.wait_for_timeout(1200)  # the charts' entry animation
    office.shot("07-report-top")
    office.shot("08-report-full", full_page=True)
    for chart in ("payouts", "income", "outcomes"):
        office.shot_of(f"[data-chart={chart}]", f"08-chart-{chart}")
    table = page.inner_text("#files-table")
    assert table.count("✓ 相符") == 7 and "✗" not in table
    kpis = page.inner_text(".kpis")
    assert "333 = 243 + 73 + 17" in kpis.replace(",", "")  # rows read = used + rejected + skipped

    with page.expect_download() as download:
        page.click(f"a[href='/console/runs/{run_id}/files/report.xlsx']")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"

    page.click("text=拒绝明细")
    page.wait_for_url("**/rejections")
    page.select_option("select[name=reason]", "unknown_person")
    page.wait_for_url("**reason=unknown_person**")
    expected = [row for row in csv.DictReader(io.StringIO((server.runs_dir / run_id / "rejections.csv")
                                                          .read_text("utf-8"))) if row["reason"] == "unknown_person"]
    assert page.locator("#rejections-table tr").count() == len(expected) + 1
    office.shot("09-rejections-filtered")
    with page.expect_download() as download:
        page.click("#download-rejections")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    assert [row["row"] for row in rows] == [row["row"] for row in expected]

    page.click("text=入户核查名单")
    page.wait_for_url("**/visits")
    assert page.locator("#visits-table tr").count() > 1
    office.shot("10-visits-by-township-and-village")
    office.clean()


def test_find_a_household_by_its_heads_name_and_read_its_explanation(demo_run: str,
                                                                     visitors: dict[str, Visitor]) -> None:
    office = visitors["office"]
    page = office.page
    office.goto("/console/households")
    page.fill("input[name=q]", "高兰婷")
    page.click("main button[type=submit]")
    page.wait_for_selector("#household-hits")
    office.shot("11-household-search")
    page.click("#household-hits a[href='/console/households/130434-000001']")
    page.wait_for_url("**/console/households/130434-000001")
    text = page.inner_text("main")
    for shown in ("高兰婷", "✓ 与存档一致", "20,000.00 × 50% = 10,000.00", "5,000.00 × 60% = 3,000.00",
                  "二(二) 阶梯化救助"):
        assert shown in text, shown
    office.shot("12-household")
    office.shot("13-household-full", full_page=True)
    office.clean()


def _state(server: Server, claim_id: int) -> tuple[str, int]:
    with session_scope(server.database_url) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        return claim.state, claim.version


def _open_the_runs_claims(office: Visitor, run_id: str) -> None:
    office.goto(f"/console/runs/{run_id}")
    office.page.once("dialog", lambda dialog: dialog.accept())
    office.page.click("#open-claims")
    office.page.wait_for_selector("text=已为本次运行的赔付户开立")


def _survey(surveyor: Visitor, claim_id: int) -> None:
    surveyor.page.fill("#step-surveyed textarea[name=findings]", "入户查看住院票据与医保结算单,情况属实")
    surveyor.shot("16-claim-survey-form")
    surveyor.page.click("#step-surveyed button[type=submit]")
    surveyor.page.wait_for_selector("#step-done")


def _first_two_claims(server: Server) -> tuple[int, int]:
    with session_scope(server.database_url) as session:
        first, second = session.scalars(select(Claim.id).order_by(Claim.id).limit(2)).all()
    return first, second


def test_move_a_claim_one_step_as_the_surveyor_and_fail_as_the_village(server: Server, demo_run: str,
                                                                      visitors: dict[str, Visitor]) -> None:
    office = visitors["office"]
    _open_the_runs_claims(office, demo_run)
    office.goto("/console/claims?state=opened")
    assert office.page.locator("#claims-table tr").count() > 2
    office.shot("14-claims-board-office")
    first, second = _first_two_claims(server)

    surveyor = visitors["surveyor"]
    surveyor.goto("/console/claims")
    assert "待我办" in surveyor.page.inner_text("#state-tabs")
    surveyor.shot("15-claims-board-surveyor")
    surveyor.page.click(f"a[href='/console/claims/{first}#step-surveyed']")
    surveyor.page.wait_for_url(f"**/console/claims/{first}*")
    _survey(surveyor, first)
    assert "已入户查勘" in surveyor.page.inner_text("h1")
    surveyor.shot("17-claim-surveyed")
    assert _state(server, first) == ("surveyed", 2)

    village = visitors["village"]
    village.goto(f"/console/claims/{second}")
    assert village.page.locator("#step-surveyed").count() == 0
    assert "保险公司查勘员办理" in village.page.inner_text("#not-my-step")
    village.shot("18-claim-not-the-villages-step")
    village.post_form(f"/console/claims/{second}/transitions",
                      {"to": "surveyed", "version": "1", "visit_date": "2019-10-08", "findings": "村里替查勘员填了",
                       "verified_illness": "45000.00"})
    village.page.wait_for_selector("#step-error")
    assert "无权操作" in village.page.inner_text("#step-error")
    village.shot("19-claim-refused-for-the-village")
    assert _state(server, second) == ("opened", 1)
    for visitor in (office, surveyor):
        visitor.clean()
    village.clean(allowed=MAIN_FRAME_REFUSED)


def test_the_auditor_replays_the_run_under_its_own_pack_and_another(demo_run: str,
                                                                  visitors: dict[str, Visitor]) -> None:
    auditor = visitors["auditor"]
    page = auditor.page
    auditor.goto("/console/audit")
    page.select_option("select[name=run]", demo_run)
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replay-result")
    assert page.inner_text("#replay-result h2").endswith(":一致")
    auditor.shot("20-replay-identical")
    page.select_option("select[name=pack]", "handan-2020")
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replay-diff")
    assert "结果改变" in page.inner_text("#replay-result h2") and "贫困线" in page.inner_text("#replay-result")
    auditor.shot("21-replay-under-handan-2020")
    auditor.shot("22-replay-under-handan-2020-full", full_page=True)
    auditor.clean()


def _take_step(visitor: Visitor, claim_id: int, to: str, fill: dict[str, str] | None = None) -> None:
    visitor.goto(f"/console/claims/{claim_id}")
    for name, value in (fill or {}).items():
        visitor.page.fill(f"#step-{to} [name={name}]", value)
    visitor.page.click(f"#step-{to} button[type=submit]")
    visitor.page.wait_for_selector("#step-done")


def test_the_rest_of_the_path_after_seven_days_of_publicity_and_the_fund(browser: object, server: Server,
                                                                         demo_run: str,
                                                                         visitors: dict[str, Visitor]) -> None:
    _open_the_runs_claims(visitors["office"], demo_run)
    claim_id, _ = _first_two_claims(server)
    surveyor = visitors["surveyor"]
    surveyor.goto(f"/console/claims/{claim_id}")
    _survey(surveyor, claim_id)
    assert _state(server, claim_id) == ("surveyed", 2)
    village = visitors["village"]
    _take_step(village, claim_id, "publicised", {"notes": "村民代表会议评议通过,张榜公示"})
    assert "2019-10-08 至 2019-10-14" in village.page.inner_text("#publicity")
    village.shot("23-claim-publicised-until")
    village.clean()

    server.clock.advance(days=7)  # sessions are 8 hours: everyone signs in again a week later
    windows = {role: Visitor(browser, server) for role in ("department", "office", "payer")}
    try:
        for role, window in windows.items():
            window.login(f"{role}1", server.tokens[role])
        _take_step(windows["department"], claim_id, "cross_checked", {"department_1": "县卫健局",
                                                                       "reference_1": "卫比〔2019〕12号"})
        _take_step(windows["office"], claim_id, "filed", {"filing_number": "FP-2019-0001"})
        _take_step(windows["payer"], claim_id, "paid", {"payment_reference": "PICC-2019-88"})
        assert "已赔付" in windows["payer"].page.inner_text("h1")
        windows["payer"].shot("24-claim-paid")
        assert _state(server, claim_id) == ("paid", 6)

        office = windows["office"]
        page = office.page
        office.goto("/console/fund?year=2019")
        page.fill("#input-form input[name=amount]", "36,105,000.00")
        page.fill("#input-form input[name=purpose]", "2019年度防贫保险县级财政配套资金")
        page.click("#input-form button[type=submit]")
        page.wait_for_selector("#confirm-input")
        assert "叁仟陆佰壹拾万零伍仟元整" in page.inner_text("#input-review")
        office.shot("25-fund-confirm")
        page.click("#confirm-input")
        page.wait_for_selector("text=已记录财政投入")
        page.wait_for_function(ALL_CHARTS_READY, arg=1)
        page.wait_for_timeout(1200)
        kpis = page.inner_text(".kpis")
        assert "36,105,000.00" in kpis and "赔付(1 户)" in kpis
        office.shot("25-fund")
        for window in windows.values():
            window.clean()
    finally:
        for window in windows.values():
            window.close()


def test_a_hundred_thousand_rejected_rows_are_paged_on_the_server(server: Server, demo_run: str,
                                                                  visitors: dict[str, Visitor]) -> None:
    rows = 100_000
    reasons = ["bad_id_number", "bad_amount", "bad_date", "unknown_person"]
    pl.DataFrame({
        "file": [f"城乡居民医保一站式结算{i % 3}.csv" for i in range(rows)], "row": [i + 2 for i in range(rows)],
        "field": ["id_number"] * rows, "value": [f"13043419800101{i:06d}" for i in range(rows)],
        "reason": [reasons[i % 4] for i in range(rows)],
    }).write_csv(server.runs_dir / demo_run / "rejections.csv")
    office = visitors["office"]
    page = office.page
    office.goto(f"/console/runs/{demo_run}/rejections")
    assert page.locator("#rejections-table tr").count() == 51
    assert "共 100,000 行" in page.inner_text(".pager")
    page.click(".pager >> text=末页 »")
    page.wait_for_url("**page=2000**")
    assert page.locator("#rejections-table tr").count() == 51
    assert "13043419800101099999" in page.inner_text("#rejections-table")  # the last row, on the last page
    assert page.evaluate("() => document.querySelectorAll('tr').length") < 120  # one page in the page, no more
    office.shot("26-rejections-100000-rows-last-page")
    office.clean()
