"""The HTTP API under load, on loopback: concurrent clients posting checks, then moving claims along the path.

    python bench/api.py [--db sqlite|postgresql] [--concurrency 16] [--seconds 15] [--workers 2]

Starts ``fangpin serve`` (uvicorn, ``--workers`` processes) on 127.0.0.1 on a free port, on a fresh SQLite file
or a fresh schema of the PostgreSQL test database, creates a user of each role, and runs two timed phases with
``--concurrency`` clients (asyncio tasks, one keep-alive connection each):

1. checks: POST /v1/checks of varied household documents (every one decided and stored);
2. claims: each client opens a claim (POST /v1/claims) and moves it surveyed → publicised → cross_checked →
   filed → paid (POST /v1/claims/{id}/transitions). The server runs on a copy of the shipped packs with
   ``publicity_days: 0``, so the whole path runs within seconds; everything else is the shipped policy.

Prints requests per second and p50/p99 latency per phase (and per kind of request), then stops the server.
Target on a 2-core machine: at least 300 checks/s with p99 under 100 ms at 16 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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
        if "publicity_days:" not in text:  # a pack that extends another takes the value it inherits
            continue
        start = text.index("publicity_days:")
        head, tail = text[:start], text[start:]
        parameters.write_text(head + tail.replace("value: 7", "value: 0", 1), encoding="utf-8")
    return rules


def create_users(env: dict[str, str]) -> dict[str, str]:
    tokens = {}
    for role in ROLES:
        done = subprocess.run([sys.executable, "-m", "fangpin", "users", "add", f"bench-{role}", "--role", role,
                               "--county", COUNTY], env=env, capture_output=True, text=True, check=True)
        tokens[role] = done.stdout.strip()
    # the same user never surveys a claim and marks it paid: a second surveyor pays
    done = subprocess.run([sys.executable, "-m", "fangpin", "users", "add", "bench-payer", "--role", "surveyor",
                           "--county", COUNTY], env=env, capture_output=True, text=True, check=True)
    tokens["payer"] = done.stdout.strip()
    return tokens


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
                    break
                claim = json.loads(content)
        await http.close()

    await asyncio.gather(*(client(index) for index in range(concurrency)))
    return recorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=tuple(CLIENTS), default="raw",
                        help="raw: a minimal HTTP/1.1 client (default); httpx: httpx.AsyncClient, CPU-hungrier")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="fangpin-bench-"))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = None
    if args.db == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        import sqlalchemy as sa

        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    env = {**os.environ, "FANGPIN_DATABASE_URL": url, "FANGPIN_RULES_DIR": str(bench_rules(folder))}
    tokens = create_users(env)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "fangpin", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", str(args.workers), "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
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
        print(f"fangpin serve: {args.workers} worker processes on {base}, {args.db}, {os.cpu_count()} cores; "
              f"{args.concurrency} concurrent clients ({args.client}), {args.seconds:.0f} s per phase")
        bodies = documents(4000)
        asyncio.run(checks_phase(base, args.client, tokens["surveyor"], bodies[:200], args.concurrency, 2))  # warm-up
        for phase, run in (
            ("checks", lambda: checks_phase(base, args.client, tokens["surveyor"], bodies, args.concurrency,
                                            args.seconds)),
            ("claims (open + 5 transitions each)", lambda: claims_phase(base, args.client, tokens, args.concurrency,
                                                                        args.seconds)),
        ):
            server_cpu, client_cpu, started = cpu_seconds(server.pid), time.process_time(), time.perf_counter()
            recorder = asyncio.run(run())
            elapsed = time.perf_counter() - started
            recorder.report(phase, elapsed, args.concurrency)
            count = sum(len(values) for values in recorder.latencies.values())
            print(f"  CPU per request: server {(cpu_seconds(server.pid) - server_cpu) / count * 1000:.2f} ms, "
                  f"load client {(time.process_time() - client_cpu) / count * 1000:.2f} ms")
    finally:
        server.terminate()
        server.wait(15)
        if admin is not None:
            import sqlalchemy as sa

            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
