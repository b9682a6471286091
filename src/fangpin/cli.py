"""The fangpin command: parse arguments, call one service, turn known errors into exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fangpin import services
from fangpin.errors import DocumentError, FangpinError, PackError
from fangpin.packs import available_packs, load_pack

app = typer.Typer(
    help="fangpin: the rules engine of precise poverty-prevention insurance (精准防贫保险).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

PackOption = Annotated[
    Path | None,
    typer.Option("--pack", help="A rule pack folder; default: the shipped pack in force for the policy year.",
                 exists=False),
]


def _fail(exc: FangpinError, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="A household document, YAML or JSON (SPEC section 9).")],
    pack: PackOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as one JSON object.")] = False,
) -> None:
    """Decide one household: group, outcome, amounts per cause, the rules that fired and the clauses."""
    try:
        decision = services.check_document(file, pack)
    except DocumentError as exc:
        raise _fail(exc, 2) from None
    except PackError as exc:
        raise _fail(exc, 3) from None
    except FangpinError as exc:
        raise _fail(exc, 1) from None
    if as_json:
        sys.stdout.write(json.dumps(decision.to_json_dict(), ensure_ascii=False) + "\n")
    else:
        from fangpin.render import render_decision

        render_decision(decision, out)


@app.command()
def packs(
    rules_dir: Annotated[Path | None, typer.Option("--rules-dir", help="Folder of packs (default: shipped).")] = None,
) -> None:
    """List the rule packs, the years they are in force for, and their content hashes."""
    try:
        found = available_packs(rules_dir)
    except PackError as exc:
        raise _fail(exc, 3) from None
    table = Table(title="rule packs")
    for column in ("id", "version", "years", "sha256", "folder"):
        table.add_column(column)
    for pack in found:
        table.add_row(pack.id, pack.meta.version, ", ".join(map(str, pack.meta.years)), pack.hash,
                      str(pack.directory))
    out.print(table)


@app.command("pack-validate")
def pack_validate(directory: Annotated[Path, typer.Argument(help="A rule pack folder.")]) -> None:
    """Validate a rule pack; print its hash, or the file, key and what is wrong (exit 3)."""
    try:
        pack = load_pack(directory)
    except PackError as exc:
        raise _fail(exc, 3) from None
    out.print(f"{pack.id} {pack.meta.version}: valid, {len(pack.compiled)} rules, sha256:{pack.hash}")


def main() -> None:  # pragma: no cover - console entry for `python -m fangpin`
    app()


@app.command()
def screen(
    drop: Annotated[Path, typer.Argument(help="The data drop: a folder of department exports (.csv, .xlsx).")],
    year: Annotated[int, typer.Option("--year", help="The policy year screened.")],
    county: Annotated[str, typer.Option("--county", help="The county code (行政区划代码) of the drop.")],
    pack: PackOption = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder (default: a new one under runs/).")] = None,
    sources: Annotated[Path | None, typer.Option("--sources", help="A folder of extra source profiles.")] = None,
) -> None:
    """Screen every export in DROP for a policy year: decisions, rejections, run.json and report.xlsx."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fangpin.config import get_settings
    from fangpin.reports.summary import print_summary
    from fangpin.services.screening import ScreenRequest
    from fangpin.services.screening import screen as run_screen

    settings = get_settings()
    request = ScreenRequest(drop=drop, year=year, county=county, database_url=settings.database_url,
                            pack_dir=pack, out_dir=out_dir, runs_dir=settings.runs_dir,
                            sources_dir=sources or settings.sources_dir)
    columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False, disable=not err.is_terminal) as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        try:
            result = run_screen(request, progress)
        except PackError as exc:
            raise _fail(exc, 3) from None
        except FangpinError as exc:
            raise _fail(exc, 1) from None
    if result.already:
        out.print(f"this drop was already screened for {county} {year} under the same pack as run "
                  f"{result.run['run_id']} ({result.run['finished_at']}): nothing changed, nothing stored")
        return
    print_summary(result.run, out)
    out.print(f"results: {result.out_dir}/ (decisions.csv, rejections.csv, run.json, report.xlsx)")
