"""The API's commands: ``fangpin serve``, ``fangpin users add|list|disable|enable|rotate``, ``fangpin fund``,
and what the office does beside the API: ``fangpin claims open --run`` and ``fangpin simulate``.

Length: over 300 lines because each command is a thin function (parse the options, call one service, print
its answer); they share the error mapping and the console here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fangpin import labels as words
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
        err.print("还没有用户 no users yet (fangpin users add NAME --role R --county C)")
        return
    rows = [("用户名 name", "角色 role", "县(区) county", "创建 created (UTC)", "到期 expires (UTC)", "状态 state")]
    rows += [(user.name, words.both(words.ROLES, user.role), user.county, _when(user.created_at),
              _when(user.expires_at), words.both(words.USER_STATES, user.state)
              + (f" {_when(user.disabled_at)}" if user.state == "disabled" else "")) for user in found]
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
    amount: Annotated[str | None, typer.Option("--input", help="Record a fiscal input first, in yuan as "
                                               "accountants write it: 36105000.00, 36,105,000.00, 3610.5万; "
                                               "inputs of a year add up. With --corrects: what that input "
                                               "should have been (0 reverses it).")] = None,
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD: the day the money came into the fund "
                                            "(default: today).")] = None,
    purpose: Annotated[str | None, typer.Option("--purpose", help="What the money is for (required with "
                                                "--input).")] = None,
    corrects: Annotated[int | None, typer.Option("--corrects", help="The id of the input this one corrects "
                                                 "(a new entry holding the difference; never an edit).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Record even if the same amount was already recorded for "
                                      "the county and year.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the line as one JSON object.")] = False,
) -> None:
    """The county's fund for the year: opening balance, fiscal input, payouts, fees (paid by the budget),
    carry-over and top-up (docs/policy.md section 7), and the year's inputs."""
    from fangpin.amount_words import in_words
    from fangpin.config import get_settings
    from fangpin.counties import label
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.fund import yuan as fen_yuan
    from fangpin.money import format_yuan, from_fen, parse_amount
    from fangpin.services import fund
    from fangpin.termout import fen, print_records, term, yuan

    if amount is None and (day or purpose or corrects is not None):
        raise _fail("--date、--purpose、--corrects 只用于记录一笔投入:请同时给出 --input "
                    "(they go with --input)", 2)
    try:
        typed = None if amount is None else format_yuan(parse_amount(amount))
    except ValueError as exc:
        raise _fail(f"--input: 金额无法识别 not an amount: {exc}", 2) from None
    try:
        paid_on = None if day is None else dt.date.fromisoformat(day)
    except ValueError:
        raise _fail(f"--date: “{day}”不是日期,请写 YYYY-MM-DD (not a date)", 2) from None
    recorded: str | None = None
    try:
        with session_scope(get_settings().database_url) as session:
            if typed is not None:
                try:
                    new_id, checked = fund.enter_input(session, county, year, typed, "cli", paid_on=paid_on,
                                                       purpose=purpose, corrects=corrects, repeat_ok=yes)
                except fund.RepeatedInput as repeated:
                    same = "、".join(f"#{row.id}({row.paid_on or _when(row.at)[:10]},{row.purpose or '—'})"
                                    for row in repeated.checked.duplicates)
                    raise _fail(f"{label(county)} {year} 年度已记录过同一金额 {fen(repeated.checked.typed)} 元的投入:"
                                f"{same}。确属另一笔拨款请加 --yes 再记录 (the same amount was recorded already; "
                                "--yes records it again)", 1) from None
                what = (f"更正 #{corrects}:{fen(checked.corrected_from or 0)} → {fen(checked.typed)},记录差额 "
                        f"{fen(checked.amount)} 元" if corrects is not None else f"{fen(checked.amount)} 元")
                recorded = (f"已记录财政投入 #{new_id} recorded:{what}({in_words(from_fen(checked.amount))}),"
                            f"{checked.paid_on},{checked.purpose}")
            line = fund.fund_line(session, county, year).to_json_dict()
            status = fund.fund_status(session, county, year)
            inputs = fund.ledger(session, county, year)
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    if recorded is not None:
        err.print(recorded, highlight=False, soft_wrap=True)
    if as_json:
        sys.stdout.write(json.dumps({**line, "status": fund.status_json(status)}, ensure_ascii=False) + "\n")
        return
    rows = [[label, yuan(line[key])] for key, label in (
        ("opening_balance", "上年结转 opening balance"), ("fiscal_input", "财政投入 fiscal input"),
        ("available", "可用资金 available"),
        ("payouts", f"赔付 payouts ({line['households_paid']} 户 households)"),
        ("carry_over", "结转下年 carry-over"), ("top_up", "财政补足 top-up by the budget"),
        ("fees", "保险服务费(财政支付) insurer's fees (paid by the budget)"))]
    print_records(out, f"防贫基金 fund: {label(county)}, {year} 年度", [("", "left"), (term("yuan"), "right")],
                  rows, keys=())
    if inputs:
        print_records(out, "财政投入记录 fiscal inputs", [
            ("编号 id", "left"), ("到账日期 date", "left"), ("用途 purpose", "left"), ("记录人 by", "left"),
            (term("yuan"), "right"), ("更正 correction", "left")], [
            [f"#{entry['id']}", str(entry["paid_on"] or _when(entry["at"])[:10]), entry["purpose"] or "—",
             entry["recorded_by"], fen(entry["amount"]),
             f"更正 #{entry['corrects_id']} corrects" if entry["corrects_id"] else
             (f"现为 now {fen(entry['stands_at'])}" if entry["stands_at"] is not None else "")]
            for entry in inputs], keys=(0,))
    causes = status["causes"]
    owed_rows = [[label, *(yuan(fen_yuan(status[key][cause])) for cause in causes),
                  yuan(fen_yuan(status[key]["total"])), f"{status[key]['households']:,}"]
                 for key, label in (("decided_by_runs", "筛查判定 decided by runs"),
                                    ("not_claimed", "尚未立案 no claim opened yet"),
                                    ("in_progress", "理赔办理中 claims in progress"),
                                    ("owed", "应付未付 owed (not claimed + in progress)"),
                                    ("paid", "已赔付 paid on claims"), ("rejected", "已驳回 claims rejected"))]
    print_records(out, "筛查判定的赔付:应付、办理中、已付 what the runs decided (yuan)",
                  [("", "left"), *((cause, "right") for cause in causes), ("合计 total", "right"),
                   ("户数 households", "right")], owed_rows, keys=())


def simulate_command(
    run_ids: Annotated[list[str], typer.Option("--run", help="A stored screening run; repeat for several runs "
                                               "of one county and year.")],
    pack: Annotated[Path, typer.Option("--pack", help="The draft pack folder to simulate.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write impact.json and impact.xlsx "
                                                 "(default runs/simulate-…).")] = None,
    fiscal_input: Annotated[str | None, typer.Option("--fund-input", help="Assume this fiscal input (yuan) for "
                                                     "the fund instead of the one recorded; nothing is stored.")]
    = None,
) -> None:
    """The impact of a draft pack on stored runs: who enters and leaves, cost per township and village, bands
    of change, the fund under each pack, and the parameters of the draft behind each changed yuan. Nothing is
    stored or paid."""
    import datetime as dt

    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError, PackError
    from fangpin.reports.impact import print_impact, write_impact
    from fangpin.services.fund import input_amount
    from fangpin.services.simulate import simulate as run_simulation

    settings = get_settings()
    try:
        assumed = None if fiscal_input is None else input_amount(fiscal_input)
        with session_scope(settings.database_url) as session:
            result = run_simulation(session, run_ids, pack, fiscal_input=assumed)
    except PackError as exc:
        raise _fail(str(exc), 3) from None
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    target = out_dir or settings.runs_dir / f"simulate-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    write_impact(target, result.impact, result.diff, result.cause_labels)
    print_impact(result.impact, out)
    out.print(f"written: {target}/ (impact.json, impact.xlsx)")


claims_app = typer.Typer(help="Claims from the command line (the path itself is walked through the API).",
                         no_args_is_help=True)


@claims_app.command("open")
def claims_open(
    run_id: Annotated[str, typer.Option("--run", help="The screening run whose `pay` decisions open claims.")],
    by: Annotated[str, typer.Option("--by", help="Who opens them, as recorded in each claim's history.")] = "cli",
) -> None:
    """Open a claim for every `pay` decision of a screening run that has none yet (as the office of the run's
    county, like POST /v1/claims/from-screening); households with an open claim for the year are skipped."""
    import datetime as dt

    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.services.runs import open_run_claims

    try:
        with session_scope(get_settings().database_url) as session:
            opened = open_run_claims(session, run_id, by=by, now=dt.datetime.now(dt.UTC))
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"run {run_id}: {len(opened['opened'])} claims opened, {len(opened['skipped'])} skipped")
    for item in opened["skipped"][:20]:
        out.print(f"  skipped {item['household_id']}: {item['reason']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
    app.add_typer(claims_app, name="claims")
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.command("fund")(fund_command)
