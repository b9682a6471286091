"""Every page of the console and every error a person can cause, in headless chromium on a laptop (1366×768)
and on a phone (390×844): the page is Chinese, never JSON; it is no wider than the screen; the menu is
within reach; its charts are drawn and fit. One server and one demo run serve the whole walk
(``module_server``); each page at each size is one test, so a failure names the page and the size, and
each is saved as tests/e2e/artifacts/page-<size>-<page>.png (the whole page).

**The English scan.** The page's rendered text (``innerText`` of the body, the title, the options of every
list, placeholders and tooltips) may not contain an ASCII word of two letters or more, except:

- codes a person copies or compares, removed before the scan: hexadecimal digests and their prefixes
  (6 to 64 hex digits, as in run ids and pack hashes), ``sha256``, pack ids (``handan-2019``), file names
  and extensions (``report.xlsx``, ``decisions.csv``, ``.csv``), national standards by number (the encoding
  ``GB18030``, as Chinese software names it in its menus); the names of the test's users (``office1``:
  a person's name is data, and a county's users have Chinese names);
- the abbreviations in ``ALLOWED_WORDS`` (ID, CSV, XLSX, PDF, API, GBK, UTF, ZIP, KB, MB);
- text inside ``<code>``, ``<kbd>``, ``<samp>`` or an element marked ``translate="no"``: a command or a
  machine code shown on purpose beside its Chinese label (``fangpin users add``), which a page marks so.

Anything else (an English sentence, a rule's English description, ``household_id``) fails the test and
is listed with the words found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from fangpin.claims import Actor
from fangpin.db.claims_models import Claim
from fangpin.db.session import session_scope
from fangpin.services import claims as claims_service
from tests.e2e.conftest import ARTIFACTS, PHONE, VIEWPORT, Server, Visitor, screen_demo
from tests.support import COUNTY

SIZES = {"1366": VIEWPORT, "390": PHONE}
ALLOWED_WORDS = frozenset({"ID", "CSV", "XLSX", "PDF", "API", "GBK", "UTF", "ZIP", "KB", "MB"})
CODES = [
    re.compile(r"\bsha256\b"),
    re.compile(r"[\w.\-]*\.(?:csv|xlsx|json|zip|yaml)\b", re.IGNORECASE),  # file names, extensions
    re.compile(r"\b[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*-\d{4}\b"),  # pack ids
    re.compile(r"\bGB ?\d{4,5}\b"),  # national standards by number: the encoding GB18030
    re.compile(r"\b[0-9a-f]{6,64}\b"),  # digests, their prefixes, the end of a run id
    re.compile(r"\b(?:other_office|office|surveyor|village|department|auditor|payer)1\b"),  # the users' names
]
WORD = re.compile(r"[A-Za-z]{2,}")
# the page's words: its rendered text, minus the parts marked as code; the title; the choices of each list,
# placeholders and tooltips (innerText leaves those out)
PAGE_TEXT = """() => {
    const exempt = Array.from(document.querySelectorAll("code, kbd, samp, [translate=no]"));
    let text = document.body ? document.body.innerText : "";
    for (const element of exempt) if (element.innerText.trim()) text = text.split(element.innerText).join(" ");
    const extra = [document.title];
    document.querySelectorAll("option").forEach((o) => { if (!o.closest("[translate=no]")) extra.push(o.text); });
    document.querySelectorAll("[placeholder]").forEach((e) => extra.push(e.getAttribute("placeholder")));
    document.querySelectorAll("[title]").forEach((e) => extra.push(e.getAttribute("title")));
    return {text: text, extra: extra.join("\\n"), type: document.contentType};
}"""
CHARTS_SETTLED = "() => Array.from(document.querySelectorAll('[data-chart]')).every(b => b.dataset.ready)"


def english_words(text: str) -> list[str]:
    """The ASCII words of ``text`` that are neither codes nor allowed abbreviations, in order, once each."""
    for code in CODES:
        text = code.sub(" ", text)
    found: list[str] = []
    for word in WORD.findall(text):
        if word not in ALLOWED_WORDS and word not in found:
            found.append(word)
    return found


def test_the_scanner_finds_english_and_passes_codes() -> None:
    assert english_words("找不到该户 household_id: no rule pack is in force") == [
        "household", "id", "no", "rule", "pack", "is", "in", "force"]
    assert english_words("规则包 handan-2019 3f9a2b7c01de · 运行 130434-2019-20191008T090000-a1b2c3 · "
                         "存档 sha256 " + "ab" * 32 + " · 下载 report.xlsx、城乡居民医保.csv · 身份证号(ID) · "
                         "只收 .csv 和 .xlsx") == []
    assert english_words("编码 gb18030") == ["gb"]
    assert english_words("国标中文编码文本(GB18030)、电子表格工作簿(.xlsx)") == []


@dataclass(frozen=True)
class Page:
    name: str
    role: str | None  # None: not signed in
    path: str  # with {run}, {claim}, {surveyed}, {household}
    error: bool = False  # a person's mistake: answered 4xx (404 for an unknown URL), with a page
    refused_step: bool = False  # post a step this role may not take, from the claim's page

    def url(self, walk: Walk) -> str:
        return self.path.format(run=walk.run, claim=walk.claim, surveyed=walk.surveyed, household=walk.household)


PAGES = [
    Page("login", None, "/console/login"),
    Page("home", "office", "/console"),
    Page("screening", "office", "/console/screening"),
    Page("runs", "office", "/console/runs"),
    Page("run", "office", "/console/runs/{run}"),
    Page("visits", "office", "/console/runs/{run}/visits"),
    Page("rejections", "office", "/console/runs/{run}/rejections"),
    Page("decisions", "office", "/console/runs/{run}/decisions"),
    Page("households-search", "office", "/console/households?q=130434-00000"),
    Page("household", "office", "/console/households/{household}"),
    Page("claims", "surveyor", "/console/claims?state=opened"),
    Page("claim", "surveyor", "/console/claims/{claim}"),
    Page("fund", "office", "/console/fund?year=2019"),
    Page("simulate", "office", "/console/simulate?run={run}&pack=handan-2020"),
    Page("audit", "auditor", "/console/audit/replay?run={run}&pack=handan-2020"),
    Page("audit-reads", "office", "/console/audit/reads?household={household}"),
    Page("error-unknown-url", "office", "/console/no-such-page", error=True),
    Page("error-bad-query", "office", "/console/runs/{run}/rejections?size=abc", error=True),
    Page("error-search-too-long", "office", "/console/households?q=" + "1" * 101, error=True),
    Page("error-refused-step", "surveyor", "/console/claims/{surveyed}", error=True, refused_step=True),
]


@dataclass
class Walk:
    server: Server
    run: str
    claim: int  # opened: the surveyor's form
    surveyed: int  # surveyed: its history; the next step is the village's
    household: str  # the surveyed claim's household
    windows: dict[tuple[str | None, str], Visitor]


@pytest.fixture(scope="module")
def walk(browser: Any, module_server: Server) -> Iterator[Walk]:
    """The demo run screened, its claims opened, the first surveyed (through the surveyor's own form)."""
    server = module_server
    run = screen_demo(server)
    office = Actor(name="office1", role="office", county=COUNTY)
    with session_scope(server.database_url) as session:
        claims_service.open_from_screening(session, office, run, now=server.clock())
    with session_scope(server.database_url) as session:
        claims = session.scalars(select(Claim).order_by(Claim.id).limit(2)).all()
        (surveyed, household), claim = (claims[0].id, claims[0].household_id), claims[1].id
    windows: dict[tuple[str | None, str], Visitor] = {}
    walk = Walk(server, run, claim, surveyed, household, windows)
    surveyor = window(browser, walk, "surveyor", "1366")
    surveyor.goto(f"/console/claims/{surveyed}")
    surveyor.page.fill("#step-surveyed textarea[name=findings]", "入户查看住院票据与医保结算单,情况属实")
    surveyor.page.click("#step-surveyed button[type=submit]")
    surveyor.page.wait_for_selector("#step-done")
    yield walk
    for visitor in windows.values():
        visitor.close()


def window(browser: Any, walk: Walk, role: str | None, size: str) -> Visitor:
    """The window of a role at a size, signed in once and kept for the walk."""
    key = (role, size)
    if key not in walk.windows:
        visitor = Visitor(browser, walk.server, SIZES[size])
        if role is not None:
            visitor.login(f"{role}1", walk.server.tokens[role])
        walk.windows[key] = visitor
    visitor = walk.windows[key]
    visitor.errors.clear()
    return visitor


def refuse_a_step(visitor: Visitor, claim_id: int) -> Any:
    """As the surveyor, send the village's step (publicity) for a surveyed claim, as a forged form would; the
    answer."""
    with visitor.page.expect_navigation() as navigation:
        visitor.post_form(f"/console/claims/{claim_id}/transitions",
                          {"to": "publicised", "version": "2", "deliberation_result": "approved",
                           "publicity_start": "2019-10-08", "notes": "查勘员替村里公示"})
    return navigation.value


def nav_reachable(visitor: Visitor, size: str, signed_in: bool) -> None:
    """The way home and, signed in, the menu: on the screen, within its width; on a phone, behind the menu
    button, which opens it (without script, a checkbox and its label) and closes it again."""
    page = visitor.page
    width = SIZES[size]["width"]

    def on_screen(selector: str) -> None:
        link = page.locator(selector).first
        assert link.is_visible(), f"{selector} is not visible"
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, box)

    if not signed_in or page.locator("header .menu").count() == 0:
        on_screen("a[href='/console']")  # the brand, or the error page's way back
        return
    if size == "390":
        assert not page.locator("header nav a[href='/console/claims']").is_visible()  # folded away
        page.click("header .menu-button")
        on_screen("header nav a[href='/console/claims']")
        on_screen("header .who button")  # sign out
        page.click("header .menu-button")
        assert not page.locator("header nav a[href='/console/claims']").is_visible()
    else:
        on_screen("header nav a[href='/console/claims']")
        on_screen("header .who button")


def charts_fit(visitor: Visitor, size: str) -> None:
    """Every chart drawn, as wide as its box and its box within the screen."""
    page = visitor.page
    if page.locator("[data-chart]").count() == 0:
        return
    page.wait_for_function(CHARTS_SETTLED, timeout=60_000)
    page.wait_for_timeout(900)  # the entry animation, for the screenshot
    for state in page.eval_on_selector_all("[data-chart]", """boxes => boxes.map(b => {
        const canvas = b.querySelector("canvas");
        const r = b.getBoundingClientRect();
        return {chart: b.dataset.chart, ready: b.dataset.ready, left: r.left, right: r.right,
                box: b.clientWidth, canvas: canvas ? canvas.getBoundingClientRect().width : null};
    })"""):
        assert state["ready"] == "1", state
        assert state["left"] >= 0 and state["right"] <= SIZES[size]["width"] + 0.5, state
        assert state["canvas"] is not None and abs(state["canvas"] - state["box"]) <= 1, state


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("shown", PAGES, ids=[page.name for page in PAGES])
def test_the_page_is_chinese_fits_the_screen_and_keeps_the_menu_in_reach(browser: Any, walk: Walk, size: str,
                                                                          shown: Page) -> None:
    visitor = window(browser, walk, shown.role, size)
    page = visitor.page
    if shown.refused_step:
        visitor.goto(shown.url(walk))
        response = refuse_a_step(visitor, walk.surveyed)
    else:
        response = visitor.goto(shown.url(walk))
    status = response.status if response is not None else None
    if not shown.error:
        assert status == 200, status
    elif shown.name == "error-unknown-url":
        assert status == 404, status
    elif shown.refused_step:  # the claim's page again, with the refusal, or an error page
        assert status is not None and (status == 200 or 400 <= status < 500), status
    else:
        assert status is not None and 400 <= status < 500, status
    charts_fit(visitor, size)
    visitor.shot(f"page-{size}-{shown.name}", full_page=True)
    seen = page.evaluate(PAGE_TEXT)
    text = seen["text"].strip()
    assert seen["type"] == "text/html", f"{shown.name} answered {seen['type']}, not a page"
    assert not text.startswith(("{", "[")) and '{"' not in text, f"raw JSON on {shown.name}: {text[:200]}"

    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= SIZES[size]["width"], f"{shown.name} is {scroll_width} px wide at {size}"
    nav_reachable(visitor, size, signed_in=shown.role is not None)
    if shown.name == "claims" and size == "390":  # the surveyor's actions, on the screen
        action = page.locator("#claims-table a.button").first
        action.scroll_into_view_if_needed()
        box = action.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    if shown.name == "home" and size == "390":
        page.click("header .menu-button")
        visitor.shot("page-390-home-menu-open")
        page.click("header .menu-button")
    visitor.clean(allowed=("the server responded with a status of",) if shown.error else ())
    english = english_words(text + "\n" + seen["extra"])  # last: the layout is checked even where this fails
    assert english == [], f"English on {shown.name} at {size}: {english}"


def test_tables_become_cards_on_a_phone_each_cell_labelled(browser: Any, walk: Walk) -> None:
    visitor = window(browser, walk, "office", "390")
    page = visitor.page
    visitor.goto(f"/console/runs/{walk.run}/visits")
    table = page.locator("#visits-table")
    assert "cards" in (table.get_attribute("class") or "")
    assert not page.locator("#visits-table tr.head").is_visible()  # the header row gives the labels instead
    first = page.locator("#visits-table tr:nth-child(2)")
    labels = first.locator("td").evaluate_all("cells => cells.map(c => c.dataset.label)")
    assert labels[:4] == ["乡镇", "村", "户编号", "户主"], labels
    shown = page.evaluate("""() => {
        const cell = document.querySelector("#visits-table tr:nth-child(2) td:nth-child(3)");
        return getComputedStyle(cell, "::before").content;
    }""")
    assert shown == '"户编号"'
    box = first.bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] < 600  # a card, not a row 877 px wide
    visitor.shot_of("#visits-table tr:nth-child(2)", "page-390-visits-one-card")
    visitor.clean()


def test_charts_wait_for_echarts_say_so_and_follow_the_window(browser: Any, walk: Walk) -> None:
    visitor = window(browser, walk, "office", "1366")
    page = visitor.page
    held: list[Any] = []
    page.route("**/vendor/echarts.min.js*", lambda route: held.append(route))
    page.goto(f"{walk.server.url}/console/runs/{walk.run}", wait_until="domcontentloaded")  # load waits for ECharts
    waiting = page.evaluate("""() => Array.from(document.querySelectorAll("[data-chart]"))
        .map(b => [b.dataset.ready || null, getComputedStyle(b, "::before").content])""")
    assert waiting == [[None, '"图表加载中…"']] * 3, waiting
    visitor.shot_of("[data-chart=payouts]", "chart-loading")
    assert held, "the page did not ask for ECharts"
    held[0].continue_()
    page.wait_for_function(CHARTS_SETTLED)
    assert page.evaluate("""() => Array.from(document.querySelectorAll("[data-chart]"))
        .map(b => [b.dataset.ready, getComputedStyle(b, "::before").content])""") == [["1", "none"]] * 3
    page.unroute("**/vendor/echarts.min.js*")

    page.set_viewport_size(PHONE)  # turned to a phone's width: the charts follow their boxes
    page.wait_for_function("""() => Array.from(document.querySelectorAll("[data-chart]")).every(b =>
        Math.abs(b.querySelector("canvas").getBoundingClientRect().width - b.clientWidth) <= 1)""")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(VIEWPORT)
    visitor.clean()


def test_a_chart_that_cannot_load_says_so_in_chinese(browser: Any, walk: Walk) -> None:
    visitor = window(browser, walk, "office", "390")
    page = visitor.page
    page.route("**/vendor/echarts.min.js*", lambda route: route.abort())
    visitor.goto(f"/console/runs/{walk.run}")
    page.wait_for_function(CHARTS_SETTLED)
    failed = page.locator("[data-chart] .chart-failed")
    assert failed.count() == 3
    assert "图表组件没有加载成功" in failed.first.inner_text() and "请刷新页面重试" in failed.first.inner_text()
    visitor.shot_of("[data-chart=outcomes]", "chart-failed-library")
    page.unroute("**/vendor/echarts.min.js*")

    page.route("**/charts/payouts", lambda route: route.fulfill(status=500, body="{}"))
    visitor.goto(f"/console/runs/{walk.run}")
    page.wait_for_function(CHARTS_SETTLED)
    assert page.eval_on_selector_all("[data-chart]", "bs => bs.map(b => b.dataset.ready)") == ["error", "1", "1"]
    assert "服务器答复状态 500" in page.inner_text("[data-chart=payouts]")
    assert english_words(" ".join(page.eval_on_selector_all("[data-chart]", "bs => bs.map(b => b.innerText)"))) == []
    page.unroute("**/charts/payouts")
    visitor.clean(allowed=("net::ERR_FAILED", "status of 500"))


def test_the_static_files_come_compressed_and_versioned(browser: Any, walk: Walk) -> None:
    """What the browser got (a new window: nothing cached yet): ECharts gzip-compressed, a year's cache under
    a versioned URL, and the icon."""
    visitor = Visitor(browser, walk.server)
    walk.windows[("office", "fresh")] = visitor  # closed with the walk's windows
    visitor.login("office1", walk.server.tokens["office"])
    answers: dict[str, Any] = {}
    visitor.page.on("response", lambda r: answers.setdefault(r.url.split("/console/static/")[-1].split("?")[0], r)
                    if "/console/static/" in r.url else None)
    visitor.goto(f"/console/runs/{walk.run}")
    visitor.page.wait_for_function(CHARTS_SETTLED)
    echarts = answers["vendor/echarts.min.js"]
    headers = echarts.all_headers()
    assert headers["content-encoding"] == "gzip" and "immutable" in headers["cache-control"]
    assert int(headers["content-length"]) < 400_000  # 1,034,102 bytes as shipped
    assert re.search(r"\?v=[0-9a-f]{12}$", echarts.url)
    for name in ("console.css", "console.js"):
        assert answers[name].all_headers()["content-encoding"] == "gzip", name
    icon = visitor.page.evaluate("() => document.querySelector('link[rel=icon]').href")
    assert visitor.page.request.get(icon).headers["content-type"] == "image/svg+xml"
    visitor.clean()
    assert ARTIFACTS.is_dir()


def test_without_javascript_the_phone_menu_opens_and_wide_tables_scroll_inside(browser: Any, walk: Walk) -> None:
    """A phone whose browser runs no script: the menu is a checkbox and its label; tables stay tables that
    scroll inside their card; a chart box says it needs scripts."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN",
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{walk.server.url}/console/login")
        page.fill("input[name=name]", "office1")
        page.fill("input[name=token]", walk.server.tokens["office"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{walk.server.url}/console")
        page.goto(f"{walk.server.url}/console/runs/{walk.run}")
        link = page.locator("header nav a[href='/console/claims']")
        assert not link.is_visible()
        page.click("header .menu-button")
        assert link.is_visible()
        page.screenshot(path=str(ARTIFACTS / "page-390-run-no-script-menu-open.png"))
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        table = page.evaluate("""() => { const t = document.getElementById("files-table");
            return [t.classList.contains("cards"), getComputedStyle(t).overflowX, t.scrollWidth > t.clientWidth]; }""")
        assert table == [False, "auto", True]  # wider than the card, scrolled within it
        note = page.evaluate("() => getComputedStyle(document.querySelector('[data-chart]'), '::before').content")
        assert "启用脚本" in note
        link.click()
        page.wait_for_url("**/console/claims")
    finally:
        context.close()
