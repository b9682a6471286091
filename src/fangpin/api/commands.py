"""The API's commands: ``fangpin serve``, ``fangpin users add``, ``fangpin fund``."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

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
) -> None:
    """Serve the HTTP API (OpenAPI at /v1/openapi.json, docs at /v1/docs) on FANGPIN_DATABASE_URL."""
    import uvicorn

    from fangpin.config import get_settings
    from fangpin.db.session import dispose_all, get_engine

    settings = get_settings()
    get_engine(settings.database_url)  # migrate once here, not in every worker at the same time
    dispose_all()
    count = workers or settings.workers or os.cpu_count() or 1
    uvicorn.run("fangpin.api.main:app_from_env", factory=True, host=host, port=port, workers=count,
                log_level=log_level, access_log=False)


users_app = typer.Typer(help="Users of the API: a role and a county each.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's name (unique).")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    county: Annotated[str, typer.Option("--county", help="The county code (行政区划代码) the user works in.")],
) -> None:
    """Create a user and print their bearer token, once: only its sha256 is stored."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.services.users import add_user

    try:
        with session_scope(get_settings().database_url) as session:
            token = add_user(session, name, role, county)
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    err.print(f"user {name} ({role}, county {county}) created; the token is shown only now:")
    sys.stdout.write(token + "\n")


def fund_command(
    county: Annotated[str, typer.Option("--county", help="The county code.")],
    year: Annotated[int, typer.Option("--year", help="The policy year.")],
    amount: Annotated[str | None, typer.Option("--input", help="Record a fiscal input first, in yuan as "
                                               "accountants write it: 36105000.00, 36,105,000.00, 3610.5万; "
                                               "inputs of a year add up.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the line as one JSON object.")] = False,
) -> None:
    """The county's fund for the year: opening balance, fiscal input, payouts, fees (paid by the budget),
    carry-over and top-up (docs/policy.md section 7)."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.errors import FangpinError
    from fangpin.money import format_yuan, parse_amount
    from fangpin.services import fund
    from fangpin.termout import print_records, term, yuan

    try:
        typed = None if amount is None else format_yuan(parse_amount(amount))
    except ValueError as exc:
        raise _fail(f"--input: {exc}", 2) from None
    try:
        with session_scope(get_settings().database_url) as session:
            if typed is not None:
                fund.record_input(session, county, year, typed, recorded_by="cli")
            line = fund.fund_line(session, county, year).to_json_dict()
    except FangpinError as exc:
        raise _fail(str(exc), 2) from None
    if as_json:
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    rows = [[label, yuan(line[key])] for key, label in (
        ("opening_balance", "上年结转 opening balance"), ("fiscal_input", "财政投入 fiscal input"),
        ("available", "可用资金 available"),
        ("payouts", f"赔付 payouts ({line['households_paid']} 户 households)"),
        ("carry_over", "结转下年 carry-over"), ("top_up", "财政补足 top-up by the budget"),
        ("fees", "保险服务费(财政支付) insurer's fees (paid by the budget)"))]
    print_records(out, f"防贫基金 fund: 县(区) county {county}, {year} 年度", [("", "left"), (term("yuan"), "right")],
                  rows, keys=())


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.command("fund")(fund_command)
