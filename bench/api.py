"""The HTTP API under load, on loopback: concurrent clients posting checks, then moving claims along the path.

    python bench/api.py [--db both|sqlite|postgresql] [--before] [--rounds 1] [--checks-only]
                        [--concurrency 16] [--seconds 15] [--workers 2]

Starts ``fangpin serve`` (uvicorn, ``--workers`` processes) on 127.0.0.1 on a free port, on a fresh SQLite file
or a fresh schema of the PostgreSQL test database, creates a user of each role, and runs two timed phases with
``--concurrency`` clients (asyncio tasks, one keep-alive connection each):

1. checks: POST /v1/checks of varied household documents (every one decided and stored);
2. claims: each client opens a claim (POST /v1/claims) and moves it surveyed → publicised → cross_checked →
   filed → paid (POST /v1/claims/{id}/transitions). The server runs on a copy of the shipped packs with
   ``publicity_days: 0``, so the whole path runs within seconds; everything else is the shipped policy.

Prints requests per second and p50/p99 latency per phase (and per kind of request), then stops the server.
By default it runs SQLite and then PostgreSQL (a fresh server each) and ends with a table that puts each
figure beside the other; ``--before`` adds PostgreSQL with single checks stored one by one (the setting
``api_group_commit`` off: how they were stored before group commit), and ``--rounds`` repeats the variants
alternately, so that before and after are measured in the same run, under the same load of the machine.
"checks per commit" is the decisions stored per chain-head record (one per transaction that appended).
Targets on a 2-core machine at 16 clients: SQLite at least 300 checks/s with p99 under 100 ms; PostgreSQL
at least 1,000 checks/s with p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import random_household  # noqa: E402

POSTGRES = os.environ.get("FANGPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COUNTY = "130434"
ROLES = ("office", "surveyor", "village", "department", "auditor")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_rules(folder: Path) -> Path:
    """The shipped packs, with publicity_days 0 so a claim can be cross-checked at once."""
    rules = folder / "rules"
    shutil.copytree(ROOT / "rules", rules)
    for parameters in rules.glob("*/parameters.yaml"):
        text = parameters.read_text(encoding="utf-8")
        if "publicity_days:" not in text:  # a delta pack that keeps its base's
            continue
        start = text.index("publicity_days:")
        head, tail = text[:start], text[start:]
        parameters.write_text(head + tail.replace("value: 7", "value: 0", 1), encoding="utf-8")
    return rules


def create_users(env: dict[str, str]) -> dict[str, str]:
    """A user of each role, in this process (the database migrated on the way), as `fangpin users add` would."""
    from fangpin.db.session import dispose_all, session_scope
    from fangpin.services.users import add_user

    saved = dict(os.environ)
    os.environ.update(env)  # the chain key file and the rules of this run
    try:
        with session_scope(env["FANGPIN_DATABASE_URL"]) as session:
            tokens = {role: add_user(session, f"bench-{role}", role, COUNTY) for role in ROLES}
            # who records the payment: a surveyor other than the one who surveyed (separation of duties)
            tokens["payer"] = add_user(session, "bench-payer", "surveyor", COUNTY)
            return tokens
    finally:
        dispose_all()
        os.environ.clear()
        os.environ.update(saved)


def documents(count: int) -> list[bytes]:
    rng = random.Random(2019)
    return [json.dumps(random_household(rng, f"{COUNTY}-{n:06d}").model_dump(mode="json", exclude_none=True),
                       ensure_ascii=False).encode() for n in range(count)]


def paying_document(household_id: str) -> bytes:
    """SPEC section 5, example 1: pays 13,000.00."""
    return json.dumps({
        "household_id": household_id, "year": 2019, "county": COUNTY, "status": "never_registered", "members": 4,
        "income": "17600.00", "labour_capacity": True, "housing_secure": True,
        "illness": [{"id": "S1", "date": "2019-03-02", "burden": "45000.00"}],
    }).encode()


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.unexpected: dict[str, int] = defaultdict(int)
        self.first_unexpected: dict[str, str] = {}

    def add(self, kind: str, seconds: float, ok: bool) -> None:
        self.latencies[kind].append(seconds)
        if not ok:
            self.unexpected[kind] += 1

    def report(self, phase: str, elapsed: float, concurrency: int) -> None:
        every = sorted(value for values in self.latencies.values() for value in values)
        print(f"\n{phase}: {len(every)} requests in {elapsed:.1f} s at concurrency {concurrency}: "
              f"{len(every) / elapsed:,.0f} requests/s, {_percentiles(every)}")
        if len(self.latencies) > 1:
            for kind, values in sorted(self.latencies.items()):
                print(f"  {kind:<26} {len(values) / elapsed:8,.0f} /s   {_percentiles(sorted(values))}")
        if self.unexpected:
            print(f"  unexpected answers: {dict(self.unexpected)}")
            for kind, answer in self.first_unexpected.items():
                print(f"    first {kind}: {answer}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the uvicorn workers), from /proc."""
    total = 0.0
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for each in [pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the server's worker processes: their main threads (the event loop) and all their other
    threads together (the thread pool, the group commit's lanes; Python does not name OS threads)."""
    totals = {"event loop": 0.0, "other threads": 0.0}
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for child in map(int, children):
        for task in Path(f"/proc/{child}/task").glob("*"):
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            kind = "event loop" if task.name == str(child) else "other threads"
            totals[kind] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return totals


def _percentiles(ordered: list[float]) -> str:
    if not ordered:
        return "no requests"
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


class RawClient:
    """HTTP/1.1 on one keep-alive connection, written and parsed by hand: the load generator shares the two
    cores with the server, and httpx spends about 2 ms of CPU per request, which the server would lose."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the connection and see it served (GET /v1/health)."""
        await self.request("GET", "/v1/health", b"", {})

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return await self.request("POST", path, body, headers)

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status = int((await self.reader.readuntil(b"\r\n")).split()[1])
        length = 0
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class HttpxClient:
    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=30)

    async def connect(self) -> None:
        await self.http.get("/v1/health")

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        response = await self.http.post(path, content=body, headers=headers)
        return response.status_code, response.content

    async def close(self) -> None:
        await self.http.aclose()


CLIENTS: dict[str, type[RawClient] | type[HttpxClient]] = {"raw": RawClient, "httpx": HttpxClient}


async def connected(base: str, kind: str, count: int) -> list[RawClient | HttpxClient]:
    """The clients' keep-alive connections, opened one after another before the clock starts, as clients
    arriving over time open them. Opened in the same instant, the burst is accepted mostly by whichever
    worker process wakes first (they share one listening socket), and the figures then measure that split."""
    clients = []
    for _ in range(count):
        http = CLIENTS[kind](base)
        await http.connect()
        clients.append(http)
    return clients


async def checks_phase(base: str, kind: str, token: str, bodies: list[bytes], concurrency: int,
                       seconds: float) -> Recorder:
    recorder = Recorder()
    connections = await connected(base, kind, concurrency)
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client(index: int) -> None:
        http = connections[index]
        n = index
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            status, _ = await http.post("/v1/checks", bodies[n % len(bodies)], headers)
            recorder.add("POST /v1/checks", time.perf_counter() - start, status == 201)
            n += concurrency
        await http.close()

    await asyncio.gather(*(client(index) for index in range(concurrency)))
    return recorder


STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("surveyed", "surveyor", {"findings": "bills seen", "verified": {"illness": "45000.00", "schooling": "0.00",
                                                                     "disaster": "0.00"}}),
    ("publicised", "village", {"deliberation": {"result": "approved"}}),
    ("cross_checked", "department", {"confirmations": [{"department": "health", "confirmed": True}]}),
    ("filed", "office", {"filing_number": "FP-1"}),
    ("paid", "payer", {"payment_reference": "PAY-1", "amount": "13000.00"}),
]


async def claims_phase(base: str, kind: str, tokens: dict[str, str], concurrency: int, seconds: float) -> Recorder:
    recorder = Recorder()
    auth = {role: {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            for role, token in tokens.items()}
    run = uuid.uuid4().hex[:6]
    connections = await connected(base, kind, concurrency)
    deadline = time.perf_counter() + seconds

    async def client(index: int) -> None:
        http = connections[index]
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            start = time.perf_counter()
            status, content = await http.post("/v1/claims", paying_document(f"B{run}-{index}-{n}"), auth["office"])
            recorder.add("POST /v1/claims", time.perf_counter() - start, status == 201)
            if status != 201:
                continue
            claim = json.loads(content)
            today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
            for to, role, record in STEPS:
                dates = {"surveyed": {"visit_date": today}, "publicised": {"publicity_start": today},
                         "paid": {"paid_on": today}}.get(to, {})
                body = json.dumps({"to": to, "version": claim["version"], **record, **dates}).encode()
                start = time.perf_counter()
                status, content = await http.post(f"/v1/claims/{claim['id']}/transitions", body, auth[role])
                recorder.add(f"transition → {to}", time.perf_counter() - start, status == 200)
                if status != 200:
                    recorder.first_unexpected.setdefault(f"transition → {to}", f"{status} {content[:300]!r}")
                    break
                claim = json.loads(content)
        await http.close()

    await asyncio.gather(*(client(index) for index in range(concurrency)))
    return recorder


VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "sqlite": ("sqlite", {}),
    "postgresql": ("postgresql", {}),
    # as before group commit: every check appended and committed on its own (setting api_group_commit off)
    "postgresql one by one": ("postgresql", {"FANGPIN_API_GROUP_COMMIT": "false"}),
}
ROWS = (("checks", "requests/s", "checks /s", "{:,.0f}"), ("checks", "p50", "checks p50 ms", "{:.1f}"),
        ("checks", "p99", "checks p99 ms", "{:.1f}"), ("checks", "server_cpu", "checks server CPU ms", "{:.2f}"),
        ("checks", "per_commit", "checks per commit", "{:.1f}"),
        ("wrk", "requests/s", "wrk checks /s", "{:,.0f}"), ("wrk", "p50", "wrk p50 ms", "{:.1f}"),
        ("wrk", "p99", "wrk p99 ms", "{:.1f}"), ("wrk", "server_cpu", "wrk server CPU ms", "{:.2f}"),
        ("wrk", "per_commit", "wrk checks per commit", "{:.1f}"),
        ("claims", "requests/s", "claims requests /s", "{:,.0f}"), ("claims", "p50", "claims p50 ms", "{:.1f}"),
        ("claims", "p99", "claims p99 ms", "{:.1f}"))


def summary(recorder: Recorder, elapsed: float, server_cpu: float) -> dict[str, float]:
    every = sorted(value for values in recorder.latencies.values() for value in values)
    if not every:
        return {}
    return {"requests/s": len(every) / elapsed, "p50": statistics.median(every) * 1000,
            "p99": every[min(len(every) - 1, int(len(every) * 0.99))] * 1000,
            "server_cpu": server_cpu / len(every) * 1000}


def run_variant(name: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """One server on a fresh database, its phases run and reported; the figures for the side-by-side table."""
    db, extra = VARIANTS[name]
    folder = Path(tempfile.mkdtemp(prefix="fangpin-bench-"))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = None
    if db == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        import sqlalchemy as sa

        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    env = {**os.environ, "FANGPIN_DATABASE_URL": url, "FANGPIN_RULES_DIR": str(bench_rules(folder)),
           "FANGPIN_CHAIN_KEY_FILE": str(folder / "chain.key"), **extra}
    tokens = create_users(env)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "fangpin", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", str(args.workers), "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, dict[str, float]] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        print(f"\n=== {name}: fangpin serve, {args.workers} worker processes on {base}, {os.cpu_count()} cores; "
              f"{args.concurrency} concurrent clients ({args.client}), {args.seconds:.0f} s per phase")
        bodies = documents(4000)
        asyncio.run(checks_phase(base, args.client, tokens["surveyor"], bodies[:200], args.concurrency, 2))  # warm-up
        phases = [("checks", lambda: checks_phase(base, args.client, tokens["surveyor"], bodies, args.concurrency,
                                                  args.seconds))]
        if args.wrk:
            phases.append(("wrk", lambda: wrk_phase(base, tokens["surveyor"], args.concurrency, args.seconds)))
        if not args.checks_only:
            phases.append(("claims", lambda: claims_phase(base, args.client, tokens, args.concurrency, args.seconds)))
        for phase, run in phases:
            heads_before = chain_counts(url)
            server_cpu, client_cpu, started = cpu_seconds(server.pid), time.process_time(), time.perf_counter()
            if phase == "wrk":  # figures from wrk itself: its own process, its own clock
                figures[phase] = asyncio.run(run())
                figures[phase]["server_cpu"] = ((cpu_seconds(server.pid) - server_cpu)
                                                / max(figures[phase].pop("requests"), 1) * 1000)
                print(f"  CPU per request: server {figures[phase]['server_cpu']:.2f} ms")
                figures[phase]["per_commit"] = per_commit(url, heads_before)
                continue
            threads_before = thread_cpu(server.pid)
            recorder = asyncio.run(run())
            elapsed = time.perf_counter() - started
            server_cpu = cpu_seconds(server.pid) - server_cpu
            threads_after = thread_cpu(server.pid)
            recorder.report(phase if phase == "checks" else "claims (open + 5 transitions each)", elapsed,
                            args.concurrency)
            count = sum(len(values) for values in recorder.latencies.values())
            print(f"  CPU per request: server {server_cpu / count * 1000:.2f} ms, "
                  f"load client {(time.process_time() - client_cpu) / count * 1000:.2f} ms; server by thread: "
                  + ", ".join(f"{kind} {(threads_after[kind] - threads_before.get(kind, 0.0)) / count * 1000:.2f}"
                              for kind in sorted(threads_after)) + " ms")
            figures[phase] = summary(recorder, elapsed, server_cpu)
            if phase == "checks":
                figures[phase]["per_commit"] = per_commit(url, heads_before)
    finally:
        server.terminate()
        server.wait(15)
        if admin is not None:
            import sqlalchemy as sa

            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return figures


WRK_SCRIPT = ROOT / "bench" / "wrk" / "checks.lua"


async def wrk_phase(base: str, token: str, concurrency: int, seconds: float) -> dict[str, float]:
    """POST /v1/checks from Debian's wrk with bench/wrk/checks.lua (varied documents): its figures."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    command = [wrk, "-t2", f"-c{concurrency}", f"-d{seconds:.0f}s", "--latency", "-s", str(WRK_SCRIPT), base,
               "--", token]
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    output = (await process.communicate())[0].decode()
    line = next((line for line in output.splitlines() if line.startswith("checks:")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed:\n{output}")
    print(f"\nwrk ({WRK_SCRIPT.relative_to(ROOT)}, 2 threads, {concurrency} connections) {line}")
    found = re.search(r"checks: (\d+) requests .*?: ([\d.]+) requests/s; latency p50 ([\d.]+) ms, p90 ([\d.]+) ms, "
                      r"p99 ([\d.]+) ms", line)
    assert found is not None, line
    return {"requests": float(found[1]), "requests/s": float(found[2]), "p50": float(found[3]),
            "p99": float(found[5])}


def per_commit(url: str, before: tuple[int, int]) -> float:
    records, commits = (after - then for after, then in zip(chain_counts(url), before, strict=True))
    print(f"  decisions per commit (records / chain heads recorded): {records / max(commits, 1):.1f}")
    return records / commits if commits else 0.0


def chain_counts(url: str) -> tuple[int, int]:
    """Decisions stored, and chain heads recorded for them (one per commit that appended decisions)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return (int(connection.execute(sa.text("SELECT count(*) FROM decisions")).scalar_one()),
                    int(connection.execute(sa.text("SELECT count(*) FROM chain_heads WHERE chain = 'decisions'"))
                        .scalar_one()))
    finally:
        engine.dispose()


def table(results: dict[str, list[dict[str, dict[str, float]]]]) -> None:
    """Each figure beside the others, one column per variant (rounds joined by " / ")."""
    names = list(results)
    width = max(24, *(len(name) + 2 for name in names))
    print("\n" + "".ljust(24) + "".join(name.rjust(width) for name in names))
    for phase, key, label, form in ROWS:
        cells = []
        for name in names:
            values = [run[phase][key] for run in results[name] if key in run.get(phase, {})]
            cells.append(" / ".join(form.format(value) for value in values) if values else "-")
        if any(cell != "-" for cell in cells):
            print(label.ljust(24) + "".join(cell.rjust(width) for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both",
                        help="both (default): SQLite and PostgreSQL, one after the other, figures side by side")
    parser.add_argument("--before", action="store_true",
                        help="also PostgreSQL with checks stored one by one (group commit off), as before it")
    parser.add_argument("--rounds", type=int, default=1, help="run the variants this many times, alternately")
    parser.add_argument("--wrk", action="store_true",
                        help="after the checks phase, a second one from Debian's wrk (bench/wrk/checks.lua)")
    parser.add_argument("--checks-only", action="store_true", help="skip the claims phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=tuple(CLIENTS), default="raw",
                        help="raw: a minimal HTTP/1.1 client (default); httpx: httpx.AsyncClient, CPU-hungrier")
    args = parser.parse_args()

    names = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if args.before:
        names.insert(names.index("postgresql") if "postgresql" in names else len(names), "postgresql one by one")
    results: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            results[name].append(run_variant(name, args))
    table(results)


if __name__ == "__main__":
    main()
