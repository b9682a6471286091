"""Browser tests of the console: the real service (uvicorn, on a free port of 127.0.0.1, a temporary SQLite
database) driven by Debian's headless chromium through Playwright. Never ``playwright install``: the
browser is the system's (``.ci/install-browser``). Without it the tests are skipped, or fail when CI or
FANGPIN_REQUIRE_BROWSER is set. Screenshots go to tests/e2e/artifacts/ (ignored by git).

Every test gets its own server on a fresh database (``server``), with users of every role and a clock of
its own; a test that needs the demo drop screened asks for ``demo_run``. So each test runs alone, in any
order. A module that walks through every page shares one server (``module_server``) across its tests. The
browser is started once per session."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fangpin.claims import ROLES
from fangpin.db.session import dispose_all, session_scope
from fangpin.services.jobs import Worker
from fangpin.services.users import add_user
from tests.support import COUNTY, DEMO, OTHER_COUNTY, RunningClock

CHROMIUM = Path(os.environ.get("FANGPIN_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _browser_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("FANGPIN_REQUIRE_BROWSER"))


def _unavailable(reason: str) -> None:
    if _browser_required():
        pytest.fail(f"the browser tests need {reason} (CI or FANGPIN_REQUIRE_BROWSER is set): run .ci/install-browser "
                    "(Debian's chromium package) and install the test extra (playwright)", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (run .ci/install-browser)")


@dataclass
class Server:
    url: str
    database_url: str
    runs_dir: Path
    tokens: dict[str, str]
    clock: RunningClock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(folder: Path) -> Iterator[Server]:
    """The console's service on a fresh SQLite database in ``folder``, on a free port, with its job worker."""
    import uvicorn

    from fangpin.api.main import create_app
    from fangpin.web import mount_console

    folder.mkdir(exist_ok=True)
    database_url = f"sqlite:///{folder / 'fangpin.db'}"
    clock = RunningClock()
    app = create_app(database_url, clock=clock)
    mount_console(app, runs_dir=folder / "runs")
    tokens: dict[str, str] = {}
    with session_scope(database_url) as session:
        for role in ROLES:
            tokens[role] = add_user(session, f"{role}1", role, COUNTY)
        tokens["other_office"] = add_user(session, "other_office1", "office", OTHER_COUNTY)
        tokens["payer"] = add_user(session, "payer1", "surveyor", COUNTY)  # not the surveyor who surveyed
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="auto",
                            timeout_graceful_shutdown=1, access_log=False)
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, name="console-e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console's server did not start")
        time.sleep(0.05)
    worker = Worker(database_url, poll_seconds=0.1)  # the job worker `fangpin serve` starts beside the server
    worker.start_thread()
    try:
        yield Server(f"http://127.0.0.1:{port}", database_url, folder / "runs", tokens, clock)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=15)
        worker.stop_thread()
        dispose_all()


@pytest.fixture
def server(browser: Any, tmp_path: Path) -> Iterator[Server]:
    """The console's service on a fresh SQLite database of this test's own, on a free port. (It asks for the
    browser first, so that without chromium the test is skipped before a server is started.)"""
    with serving(tmp_path / "console-e2e") as running:
        yield running


@pytest.fixture(scope="module")
def module_server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a whole test module (a walk through every page shares it and its demo run)."""
    with serving(tmp_path_factory.mktemp("console-e2e-module")) as running:
        yield running


def screen_demo(server: Server) -> str:
    """The demo drop screened into the server (through the screening service, as the console's own upload
    does), its files in the server's runs folder; the run's id."""
    from fangpin.services.screening import ScreenRequest, screen

    result = screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=server.database_url,
                                  runs_dir=server.runs_dir))
    return str(result.run["run_id"])


@pytest.fixture
def demo_run(server: Server) -> str:
    """The demo drop screened into this test's server; the run's id."""
    return screen_demo(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} (Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python (pip install -e '.[test]')")
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS, headless=True)
        yield chromium
        chromium.close()


class Visitor:
    """One user's browser window, at 1366×768 unless told (``PHONE``: 390×844, touch, as a phone), that records
    what went wrong in the page: script errors, console errors (a blocked inline script, a failed request) and
    any request leaving 127.0.0.1."""

    def __init__(self, browser: Any, server: Server, viewport: dict[str, int] | None = None) -> None:
        self.server = server
        phone = viewport is not None and viewport["width"] < 600
        self.context = browser.new_context(viewport=viewport or VIEWPORT, locale="zh-CN", accept_downloads=True,
                                           is_mobile=phone, has_touch=phone)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("console", self._console)
        self.page.set_default_timeout(30_000)

    def _only_local(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def goto(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def login(self, name: str, token: str) -> None:
        self.goto("/console/login")
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=token]", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.server.url + "/console")

    def post_form(self, action: str, fields: dict[str, str]) -> None:
        """Send a form the page does not offer, as a forged or replayed request would (with this page's CSRF
        token unless ``fields`` gives one): what the server does with a step the page kept from the user."""
        self.page.evaluate("""([action, fields]) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = action;
            const csrf = document.body.dataset.csrf || document.querySelector("input[name=csrf]").value;
            for (const [name, value] of Object.entries({csrf, ...fields})) {
                const input = document.createElement("input");
                input.type = "hidden"; input.name = name; input.value = value;
                form.append(input);
            }
            document.body.append(form);
            form.submit();
        }""", [action, fields])

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def shot_of(self, selector: str, name: str) -> Path:
        """One part of the page (a chart, a table) at its size on the screen."""
        path = ARTIFACTS / f"{name}.png"
        self.page.locator(selector).screenshot(path=str(path))
        return path

    def clean(self, allowed: tuple[str, ...] = ()) -> None:
        """Nothing went wrong in the page, and nothing was fetched from outside (no network needed)."""
        errors = [error for error in self.errors if not any(text in error for text in allowed)]
        assert errors == [], errors
        assert self.outside == [], self.outside

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitors(browser: Any, server: Server) -> Iterator[dict[str, Visitor]]:
    """A browser window per user, signed in on first use: ``visitors["office"]``."""
    opened: dict[str, Visitor] = {}

    class Windows(dict[str, Visitor]):
        def __missing__(self, role: str) -> Visitor:
            visitor = Visitor(browser, server)
            visitor.login(f"{role}1", server.tokens[role])
            opened[role] = visitor
            self[role] = visitor
            return visitor

    yield Windows()
    for visitor in opened.values():
        visitor.close()
