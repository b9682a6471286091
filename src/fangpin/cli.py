"""The fangpin command: parse arguments, call one service, turn known errors into exit codes.

Length: over 300 lines because each command is a thin function (parse the options, call one service, print
its answer); splitting the commands over modules would scatter the one typer app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
    hint = getattr(exc, "hint", None)
    err.print(f"[bold red]error:[/bold red] {exc}{';' + hint if hint else ''}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.callback()
def _settings_first() -> None:
    """Every command reads its settings first: a malformed FANGPIN_* variable is one line naming it (exit 2),
    before any work, never a traceback halfway through."""
    from fangpin.config import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as exc:
        raise _fail(exc, 2) from None


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="Household documents, YAML or JSON (docs/policy.md section 9).")],
    pack: PackOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each decision as one JSON object (a line each).")]
    = False,
) -> None:
    """Decide households, one document each: group, outcome, amounts per cause, the rules that fired and the
    clauses. Every file is decided; a file that fails is reported by name and the others still are. Exit 0 if
    all were decided, else 2 (a malformed document), 3 (a broken pack) or 1, the highest met."""
    from fangpin.render import render_decision
    from fangpin.termout import print_lines

    failed: list[int] = []
    for file in files:
        try:
            decision, labels = services.explain_document(file, pack)
        except FangpinError as exc:
            code = 2 if isinstance(exc, DocumentError) else 3 if isinstance(exc, PackError) else 1
            hint = getattr(exc, "hint", None)
            err.print(f"[bold red]error:[/bold red] {exc}{';' + hint if hint else ''}", highlight=False,
                      soft_wrap=True)
            failed.append(code)
            continue
        if as_json:
            sys.stdout.write(json.dumps(decision.to_json_dict(), ensure_ascii=False) + "\n")
            continue
        if len(files) > 1:
            print_lines(out, [f"文件 file {file}"])
        render_decision(decision, out, labels.causes, labels.rules)
    if len(files) > 1:
        err.print(f"{len(files)} 个文件 files: {len(files) - len(failed)} 已判定 decided, {len(failed)} 出错 failed",
                  highlight=False)
    if failed:
        raise typer.Exit(max(failed))


@app.command()
def packs(
    rules_dir: Annotated[Path | None, typer.Option("--rules-dir", help="Folder of packs (default: shipped).")] = None,
) -> None:
    """List the rule packs, the years they are in force for, and their content hashes."""
    try:
        found = available_packs(rules_dir)
    except PackError as exc:
        raise _fail(exc, 3) from None
    from fangpin.termout import print_records, term

    rows = [[pack.id, pack.meta.version, ", ".join(map(str, pack.meta.years)), pack.hash, str(pack.directory)]
            for pack in found]
    print_records(out, "规则包 rule packs", [(term(name), "left") for name in ("pack", "version", "years", "sha256",
                                                                            "folder")], rows, keys=(0, 3))


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
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: a new one under runs/).")
    ] = None,
    sources: Annotated[Path | None, typer.Option("--sources", help="A folder of extra source profiles.")] = None,
) -> None:
    """Screen every export in DROP for a policy year: decisions, rejections, run.json and report.xlsx."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fangpin.config import get_settings
    from fangpin.reports.summary import print_summary
    from fangpin.services.screening import ScreenRequest
    from fangpin.services.screening import screen as run_screen
    from fangpin.web.labels import STAGES

    settings = get_settings()
    request = ScreenRequest(drop=drop, year=year, county=county, database_url=settings.database_url,
                            pack_dir=pack, out_dir=out_dir, runs_dir=settings.runs_dir,
                            sources_dir=sources or settings.sources_dir, workers=settings.workers)
    columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False, disable=not err.is_terminal) as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{STAGES.get(stage, stage)} {stage}", total=total)
            bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        try:
            result = run_screen(request, progress)
        except PackError as exc:
            raise _fail(exc, 3) from None
        except FangpinError as exc:
            raise _fail(exc, 1) from None
    if result.already:
        out.print(f"本数据已筛查过,未作任何改动 — this drop was already screened for {county} {year} "
                  f"under the same pack as run {result.run['run_id']} ({result.run['finished_at']}): "
                  "nothing changed, nothing stored",
                  soft_wrap=True)
        return
    print_summary(result.run, out)
    for warning in result.warnings:
        err.print(f"[bold yellow]warning:[/bold yellow] {warning}", highlight=False, soft_wrap=True)
    out.print(f"结果文件 results: {result.out_dir}/ (decisions.csv, rejections.csv, visits.csv, households.csv, "
              "run.json, report.xlsx)", soft_wrap=True)


def _register_plugins() -> None:
    """Command groups that live beside their feature (the API's serve/users/fund commands)."""
    from fangpin.api.commands import register

    register(app)


_register_plugins()


audit_app = typer.Typer(help="Audit: verify that stored records were never altered.", no_args_is_help=True)
db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")


@audit_app.command("verify")
def audit_verify(
    heads: Annotated[Path | None, typer.Option("--heads", help="A file written by `fangpin audit export-heads`: "
                                               "also check that every head it lists is still in its chain.")] = None,
) -> None:
    """Walk the keyed hash chains (decisions, payments, claim steps, runs, fund inputs, users) and check every
    claim against its steps: report the first record altered, removed or inserted out of order in each
    county's chain (exit 1), or that all are intact (exit 0). With --heads, a chain rewritten or cut after
    the export is caught even if whoever did it held the chain key."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.services.audit import verify_chains

    try:
        with session_scope(get_settings().database_url) as session:
            problems = verify_chains(session, heads=heads)
    except FangpinError as exc:
        raise _fail(exc, 2) from None
    if problems:
        for problem in problems:
            err.print(f"[bold red]broken:[/bold red] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    against = f", and every head exported in {heads} is still in its chain" if heads is not None else ""
    out.print("all chains intact: no stored decision, payment, claim step, run, fund input or user was altered, "
              f"removed or reordered, and every claim agrees with its steps{against}", soft_wrap=True)


@audit_app.command("export-heads")
def audit_export_heads(
    out_file: Annotated[Path, typer.Argument(help="Where to write the signed heads (JSON); keep a copy where "
                                                  "whoever can write the database cannot.")],
) -> None:
    """Write each chain's head (chain, county, seq, hash), signed with the chain key, after checking that
    everything verifies. `fangpin audit verify --heads FILE` later catches a chain rewritten or cut since."""
    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.services.audit import export_heads

    try:
        with session_scope(get_settings().database_url) as session:
            document = export_heads(session, out_file)
    except FangpinError as exc:
        raise _fail(exc, 1) from None
    except OSError as exc:
        err.print(f"[bold red]error:[/bold red] {out_file}: {exc.strerror}", highlight=False)
        raise typer.Exit(2) from None
    out.print(f"{len(document['heads'])} chain heads exported to {out_file} (key {document['key']})")


@audit_app.command("reads")
def audit_reads(
    household: Annotated[str | None, typer.Option("--household", help="Who read this household (its id).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="What this user read.")] = None,
    county: Annotated[str | None, typer.Option("--county", help="Only reads by users of this county.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first.")] = 1000,
) -> None:
    """The access log: who read, searched or downloaded a household's data, or what a user read (newest
    first). Searches by ID number show the number masked: it was never stored in clear."""
    from rich.table import Table

    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.services.access_log import reads

    if household is None and user is None:
        err.print("[bold red]error:[/bold red] 请指定 --household 户编号 或 --user 用户名(或两者) "
                  "give --household ID or --user NAME (or both)", highlight=False)
        raise typer.Exit(2)
    with session_scope(get_settings().database_url) as session:
        rows = reads(session, county=county, household_id=household, user=user, limit=limit)
    from fangpin import labels as words

    whose = f"农户 household {household}" if household else f"用户 user {user}"
    table = Table(title=f"查阅记录 reads of {whose}")
    for column in ("时间 at (UTC)", "用户 who", "角色 role", "县(区) county", "类别 kind", "对象 object",
                   "户编号 household", "路径 route", "状态 status"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.at.strftime("%Y-%m-%d %H:%M:%S"), row.who, words.both(words.ROLES, row.role), row.county,
                      words.both(words.READ_KINDS, row.kind), row.object_id or "", row.household_id or "", row.route,
                      str(row.status))
    shown = out if out.is_terminal else Console(width=240)  # piped or captured: wide, nothing cut
    shown.print(table)
    shown.print(f"共 {len(rows)} 条 {len(rows)} read(s)")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the database migrations (new SQLite files are migrated on first use anyway)."""
    from fangpin.config import get_settings
    from fangpin.db.session import make_engine, normalise_url, upgrade

    url = get_settings().database_url
    engine = make_engine(url)
    try:
        upgrade(engine, normalise_url(url), revision)
    finally:
        engine.dispose()
    out.print(f"database at {revision}")


runs_app = typer.Typer(help="The screening runs stored in the database (listed newest first without a command).",
                       invoke_without_command=True)
app.add_typer(runs_app, name="runs")


@runs_app.callback()
def runs(ctx: typer.Context, limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20) -> None:
    """The screening runs stored in the database, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from fangpin.config import get_settings
    from fangpin.counties import label
    from fangpin.db.session import session_scope
    from fangpin.services.runs import latest_runs
    from fangpin.termout import fen, print_records, term

    with session_scope(get_settings().database_url) as session:
        rows = [[run.id, label(run.county), str(run.year), run.pack_hash[:12], str(run.households), fen(run.payout),
                 fen(run.fee), run.finished_at.isoformat(timespec="seconds")]
                for run in latest_runs(session, limit=limit)]
    columns = [(term(name), "right" if name in ("households", "payout", "fee") else "left")
               for name in ("run", "county", "year", "pack", "households", "payout", "fee", "finished")]
    print_records(out, "筛查运行 screening runs (元 yuan)", columns, rows)


@runs_app.command("purge")
def runs_purge(
    before: Annotated[str | None, typer.Option("--before", help="YYYY-MM-DD: purge runs finished before this day "
                                               "(default: today less FANGPIN_RETENTION_DAYS).")] = None,
) -> None:
    """Remove the result files of runs finished before DATE, the personal data of their event ledgers once
    their policy year is over, and the household documents stored before DATE (not those of claims under
    way). The chains still verify: they keep the digests, not the values."""
    import datetime as dt

    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.services.purge import cutoff, purge_runs

    settings = get_settings()
    try:
        day = cutoff(dt.date.fromisoformat(before) if before else None, settings.retention_days, dt.date.today())
    except ValueError as exc:
        err.print(f"[bold red]error:[/bold red] --before: {exc}", highlight=False)
        raise typer.Exit(2) from None
    with session_scope(settings.database_url) as session:
        result = purge_runs(session, settings.runs_dir, day)
    out.print(f"purged before {day}: {len(result.runs)} runs ({result.folders} result folders, "
              f"{result.stored_results} stored result tables, {result.ledgers} event ledgers), {result.documents} "
              "household documents", soft_wrap=True)
    if result.kept_documents:
        out.print(f"kept {result.kept_documents} household documents chained before keyed hashes (0.1/0.2): their "
                  "chain covers the document itself", soft_wrap=True)


@app.command()
def replay(
    run_id: Annotated[str | None, typer.Option("--run", help="Replay every decision of a screening run.")] = None,
    decision_id: Annotated[int | None, typer.Option("--decision", help="Replay one stored decision.")] = None,
    pack: Annotated[Path | None, typer.Option("--pack", help="Replay under this pack instead of the one that "
                                              "decided.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write diff.csv, diff.xlsx and "
                                                 "summary.json (default runs/replay-…).")] = None,
) -> None:
    """Re-decide stored facts. Under the deciding pack the result is identical (exit 0); under another pack,
    a diff per household and cause with the parameters and rules that account for it (exit 1 if any)."""
    import datetime as dt

    from fangpin.config import get_settings
    from fangpin.db.session import session_scope
    from fangpin.reports.replay import print_replay, replay_summary, write_replay
    from fangpin.services.replay import replay_decision, replay_run

    if (run_id is None) == (decision_id is None):
        err.print("[bold red]error:[/bold red] give exactly one of --run ID or --decision ID")
        raise typer.Exit(2)
    settings = get_settings()
    try:
        with session_scope(settings.database_url) as session:
            result = (replay_run(session, run_id, pack) if run_id is not None
                      else replay_decision(session, decision_id, pack))  # type: ignore[arg-type]
    except PackError as exc:
        raise _fail(exc, 3) from None
    except FangpinError as exc:
        raise _fail(exc, 2) from None
    before, after = result.pack_before.people_labels, result.pack_after.people_labels
    summary = replay_summary(
        result.scope, result.identical,
        {"id": result.pack_before.id, "hash": result.pack_before.hash},
        {"id": result.pack_after.id, "hash": result.pack_after.hash},
        result.totals(), (result.stored_digest, result.replayed_digest), result.parameters, result.verdict,
        {**before.parameters, **after.named_parameters()},
    )
    target = out_dir or settings.runs_dir / f"replay-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    write_replay(target, summary, result.diff)
    print_replay(summary, result.diff, out, {**before.causes, **after.causes},
                 {**before.parameters, **after.named_parameters()})
    out.print(f"written: {target}/ (summary.json, diff.csv, diff.xlsx)")
    if not result.holds:
        raise typer.Exit(1)


@app.command()
def report(
    run_id: Annotated[str, typer.Option("--run", help="The stored run (`fangpin runs` lists them).")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="A new or empty folder (default: "
                                                 "runs/<run>-report-<time>).")] = None,
) -> None:
    """Write every result file of a stored run again, from the database alone: decisions.csv (identical to the
    run's own), rejections.csv, visits.csv, households.csv, run.json and report.xlsx."""
    import datetime as dt

    from fangpin.config import get_settings
    from fangpin.services.rebuild import describe, rebuild_run

    settings = get_settings()
    target = out_dir or settings.runs_dir / f"{run_id}-report-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    try:
        result = rebuild_run(settings.database_url, run_id, target)
    except FangpinError as exc:
        raise _fail(exc, 2) from None
    out.print(f"written: {describe(result)}", soft_wrap=True, highlight=False)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run the jobs waiting now, then exit.")] = False,
    parent_pid: Annotated[int | None, typer.Option("--parent-pid", hidden=True,
                                                   help="Stop when this process ends (fangpin serve).")] = None,
) -> None:
    """Run the screening jobs queued from the console, one county at a time (`fangpin serve` starts one).
    On start-up, jobs left running by a worker that died are marked failed and their temporary files
    removed."""
    import logging
    import signal

    from fangpin.config import get_settings
    from fangpin.services.jobs import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    runner = Worker(settings.database_url)
    failed = runner.recover()
    if failed:
        err.print(f"marked failed {len(failed)} job(s) left running by a worker that stopped: {', '.join(failed)}",
                  soft_wrap=True)
    if once:
        while runner.run_one():
            pass
        return

    def stop(_signum: int, _frame: object) -> None:
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if parent_pid is not None:  # started by `fangpin serve`: told to stop (SIGTERM) when serve ends, however
        from fangpin.reports.workbook import die_with_parent

        die_with_parent(parent_pid, signal.SIGTERM)
    err.print(f"worker {runner.owner} waiting for screening jobs on {settings.database_url.split('@')[-1]}")
    runner.run_forever()
