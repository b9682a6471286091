"""The API's commands: ``fangpin serve``, ``fangpin users add|list|disable|enable|rotate``, ``fangpin fund``."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fangpin.claims import ROLES

err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (default: FANGPIN_WORKERS, else one per core).")]
    = 0,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    job_worker: Annotated[bool, typer.Option("--job-worker/--no-job-worker",
                                             help="Start a `fangpin worker` process for the console's screening "
                                                  "jobs (restarted if it dies); --no-job-worker when one runs "
                                                  "elsewhere.")] = True,
) -> None:
    """Serve the HTTP API (OpenAPI at /v1/openapi.json, docs at /v1/docs) and the console on
    FANGPIN_DATABASE_URL, with a worker process for the console's screening jobs."""
    import uvicorn

    from fangpin.config import get_settings
    from fangpin.db.session import dispose_all, get_engine

    settings = get_settings()
    get_engine(settings.database_url)  # migrate once here, not in every worker at the same time
    dispose_all()
    count = workers or settings.workers or os.cpu_count() or 1
    supervisor = _WorkerSupervisor() if job_worker else None
    if supervisor is not None:
        supervisor.start()
    try:
        uvicorn.run("fangpin.api.main:app_from_env", factory=True, host=host, port=port, workers=count,
                    log_level=log_level, access_log=False)
    finally:
        if supervisor is not None:
            supervisor.stop()


class _WorkerSupervisor:
    """``fangpin worker`` as a child process of ``fangpin serve``, started again (after a pause) if it dies."""

    def __init__(self) -> None:
        import threading

        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._watch, name="job-worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self._process = subprocess.Popen([sys.executable, "-m", "fangpin", "worker",
                                              "--parent-pid", str(os.getpid())])
            code = self._process.wait()
            if not self._stopping.is_set():
                err.print(f"the job worker exited ({code}): starting another in 2 s")
                self._stopping.wait(2)

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


users_app = typer.Typer(help="Users of the API: a role and a county each.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's name (unique).")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    county: Annotated[str, typer.Option("--county", help="The county code (行政区划代码) the user works in.")],
    scope: Annotated[str | None, typer.Option("--scope", help="Confine the user to a township or township/village "
                                              "of the register (e.g. 东代固镇/中段村; docs/privacy.md).")] = None,
) -> None:
    """Create a user and print their bearer token, once: only its sha256 is stored."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.services.users import add_user

    try:
        with session_scope(get_settings().database_url) as session:
            token = add_user(session, name, role, county, scope=scope)
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    where = f", scope {scope}" if scope else ""
    err.print(f"user {name} ({role}, county {county}{where}) created; the token is shown only now:")
    sys.stdout.write(token + "\n")


def _when(moment: dt.datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@users_app.command("list")
def users_list() -> None:
    """Every user: name, role, county, created, expires and state (active, expired, disabled); never a token."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.services.users import list_users

    with session_scope(get_settings().database_url) as session:
        found = list_users(session)
    if not found:
        err.print("no users yet (fangpin users add NAME --role R --county C)")
        return
    rows = [("name", "role", "county", "created (UTC)", "expires (UTC)", "state")]
    rows += [(user.name, user.role, user.county, _when(user.created_at), _when(user.expires_at),
              user.state if user.state != "disabled" else f"disabled {_when(user.disabled_at)}") for user in found]
    _print_rows(rows)


@users_app.command("attempts")
def users_attempts(
    name: Annotated[str | None, typer.Option("--name", help="Only the attempts for this user name.")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Only the attempts from this address.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """Sign-ins to the console and refused API tokens, newest first: when (UTC), where, the name tried, the
    address, the outcome (ok, failed, locked) and why; never a token."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.services.logins import attempts

    with session_scope(get_settings().database_url) as session:
        found = attempts(session, name=name, address=address, limit=limit)
    if not found:
        err.print("no sign-in attempts recorded")
        return
    rows = [("at (UTC)", "channel", "name", "address", "outcome", "reason")]
    rows += [(f"{a.at:%Y-%m-%d %H:%M:%S}", a.channel, a.name or "-", a.address or "-", a.outcome, a.reason or "")
             for a in found]
    _print_rows(rows)


def _print_rows(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(_width(row[index]) for row in rows) for index in range(len(rows[0]))]
    for row in rows:
        sys.stdout.write("  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=True))
                         .rstrip() + "\n")


def _width(text: str) -> int:
    """Columns a terminal gives the text: two for each wide (CJK) character."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _change(action: str, name: str) -> None:
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.services import users

    change = {"disable": users.disable_user, "enable": users.enable_user}[action]
    try:
        with session_scope(get_settings().database_url) as session:
            user = change(session, name)
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    err.print(f"user {user.name} ({user.role}, county {user.county}): {user.state}, token valid until "
              f"{_when(user.expires_at)} UTC", highlight=False, soft_wrap=True)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Refuse the user's token from now on (every server process within seconds) and end their console
    sessions; the user stays listed, and their name taken."""
    _change("disable", name)


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Accept a disabled user's token again, until it expires."""
    _change("enable", name)


@users_app.command("rotate")
def users_rotate(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Issue the user a new token, valid for FANGPIN_TOKEN_DAYS (default 90) from now, and print it once; the
    old token is refused at once and the user's console sessions end."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.services.users import describe_user, rotate_token

    try:
        with session_scope(get_settings().database_url) as session:
            token = rotate_token(session, name)
            user = describe_user(session, name)
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    err.print(f"user {user.name} ({user.role}, county {user.county}): new token, valid until "
              f"{_when(user.expires_at)} UTC{'' if user.state == 'active' else f' ({user.state})'}; the old one "
              "is refused from now on; the token is shown only now:", highlight=False, soft_wrap=True)
    sys.stdout.write(token + "\n")


def fund_command(
    county: Annotated[str, typer.Option("--county", help="The county code.")],
    year: Annotated[int, typer.Option("--year", help="The policy year.")],
    amount: Annotated[str | None, typer.Option("--input", help="Record a fiscal input first (yuan, e.g. "
                                               "36105000.00); inputs of a year add up.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the line as one JSON object.")] = False,
) -> None:
    """The county's fund for the year: opening balance, fiscal input, payouts, fees (paid by the budget),
    carry-over and top-up (docs/policy.md section 7)."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.services import fund

    try:
        with session_scope(get_settings().database_url) as session:
            if amount is not None:
                fund.record_input(session, county, year, amount, recorded_by="cli")
            line = fund.fund_line(session, county, year).to_json_dict()
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    if as_json:
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"fund of county {county}, {year}")
    table.add_column("")
    table.add_column("yuan", justify="right")
    for key, label in (("opening_balance", "opening balance (carried over)"), ("fiscal_input", "fiscal input"),
                       ("available", "available"), ("payouts", f"payouts ({line['households_paid']} households)"),
                       ("carry_over", "carry-over"), ("top_up", "top-up by the budget"),
                       ("fees", "insurer's fees (paid by the budget)")):
        table.add_row(label, line[key])
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.command("fund")(fund_command)
