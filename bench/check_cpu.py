"""Server CPU of one single check (POST /v1/checks), measured in process: CPU time, not wall time, so that the
figure holds on a machine others are loading.

    python bench/check_cpu.py [--db both|sqlite|postgresql] [--checks 3000] [--concurrency 16]
                              [--profile cprofile|none] [--top 40] [--warm 300]

Builds the real app (``create_app``) on a fresh SQLite file or a fresh schema of the PostgreSQL test database,
adds a surveyor, and sends ``--checks`` varied household documents (bench/api.py's ``documents``) through the
ASGI app directly, from ``--concurrency`` asyncio tasks in one event loop (the app's lifespan run as uvicorn
runs it: its thread limit, ``gc.freeze``). The driver is a few lines of ASGI, so nearly all of the process's
CPU is the server's: the route, its dependencies, the thread pool, and on PostgreSQL the group commit's lane
thread. What it does not count: uvicorn's HTTP parsing and the database server's own CPU.

Prints, per database, CPU microseconds per check (``time.process_time()`` over the measured checks, all of
the process's threads) and wall checks/s; with ``--profile cprofile`` the top functions by cumulative and by
own time (cProfile sees the threads it is enabled in: the event loop's, the pool's and the lane's, each
enabled by ``threading.setprofile``; the profiled figure is higher, compare it only with another profile).
Every answer must be 201 with a decision; anything else stops the run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import COUNTY, POSTGRES, documents  # noqa: E402


class Driver:
    """An ASGI client in a few lines: one request, its status and body."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode()),
                        (b"content-type", b"application/json")]

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
                 "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
                 "headers": [*self.headers, (b"content-length", str(len(body)).encode())], "state": self.state}
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # a disconnect never comes
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


async def run_checks(driver: Driver, bodies: list[bytes], concurrency: int) -> list[tuple[int, bytes]]:
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(bodies)
    queue = iter(range(len(bodies)))

    async def client() -> None:
        for index in queue:
            answers[index] = await driver.post("/v1/checks", bodies[index])

    await asyncio.gather(*(client() for _ in range(concurrency)))
    for status, content in answers:
        if status != 201:
            raise SystemExit(f"unexpected answer {status}: {content[:400]!r}")
    return answers


class GcTime:
    """The CPU time the garbage collector takes (``gc.callbacks``), in this process's threads."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started


def database(db: str, folder: Path) -> tuple[str, Any]:
    """A fresh database's URL, and a function that drops it."""
    if db == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", lambda: None
    import sqlalchemy as sa

    schema = f"cpu_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{POSTGRES}?options=-csearch_path%3D{schema}", drop


def measure(db: str, args: argparse.Namespace) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="fangpin-cpu-"))
    url, drop = database(db, folder)
    os.environ["FANGPIN_CHAIN_KEY_FILE"] = str(folder / "chain.key")
    from fangpin.api.main import create_app
    from fangpin.db.session import dispose_all, session_scope
    from fangpin.services.users import add_user

    try:
        with session_scope(url) as session:
            token = add_user(session, "bench-surveyor", "surveyor", COUNTY)
        app = create_app(url)
        driver = Driver(app, token)
        bodies = documents(args.checks + args.warm)
        profiles: list[cProfile.Profile] = []
        figures: dict[str, float] = {}

        def profile_thread(*_: Any) -> None:  # each thread its own profiler (one profiler's stack is one thread's)
            profiles.append(cProfile.Profile())
            profiles[-1].enable()

        async def main() -> None:
            if args.profile == "cprofile":  # every thread the app starts from here on, the warm-up included
                threading.setprofile(profile_thread)
                profiles.append(cProfile.Profile())
                profiles[-1].enable()
            async with app.router.lifespan_context(app):
                await run_checks(driver, bodies[:args.warm], args.concurrency)  # warm: packs, engine, user, pool
                gc.collect()
                collecting = GcTime()
                gc.callbacks.append(collecting)
                cpu, wall = time.process_time(), time.perf_counter()
                await run_checks(driver, bodies[args.warm:], args.concurrency)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                gc.callbacks.remove(collecting)
                figures["gc_us"] = collecting.seconds / args.checks * 1e6
                threading.setprofile(None)  # type: ignore[arg-type]
                profiles[0].disable() if profiles else None
                figures.update(cpu_us=cpu / args.checks * 1e6, per_second=args.checks / wall)
                grouped = getattr(app.state, "grouped_checks", None)
                if grouped is not None:
                    figures["per_commit"] = grouped.group.appended / max(grouped.group.batches, 1)

        if args.loop == "uvloop":  # the event loop uvicorn runs (uvicorn[standard])
            import uvloop

            uvloop.run(main())
        else:
            asyncio.run(main())
        print(f"{db}: {args.checks} checks, concurrency {args.concurrency}: {figures['cpu_us']:,.0f} us CPU per "
              f"check, {figures['per_second']:,.0f} checks/s wall"
              + (f", {figures['per_commit']:.1f} checks per commit" if "per_commit" in figures else "")
              + f"; garbage collection {figures['gc_us']:.0f} us per check")
        if profiles:
            stats = pstats.Stats(profiles[0], stream=io.StringIO())
            for profile in profiles[1:]:
                stats.add(profile)
            if args.dump:
                stats.dump_stats(args.dump)
            for order in ("cumulative", "tottime"):
                text = io.StringIO()
                stats.stream = text  # type: ignore[attr-defined]
                stats.sort_stats(order).print_stats(args.top)
                print(text.getvalue())
        return figures
    finally:
        dispose_all()
        drop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--warm", type=int, default=300, help="checks sent first, not measured")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="the event loop: uvloop (default: what `fangpin serve` runs under uvicorn) or asyncio's")
    parser.add_argument("--rounds", type=int, default=1, help="measure each database this many times")
    parser.add_argument("--profile", choices=("none", "cprofile"), default="none")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", help="with --profile: also write the merged profile here (pstats)")
    args = parser.parse_args()
    names = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            results[name].append(measure(name, args)["cpu_us"])
    print(json.dumps({name: [round(value) for value in values] for name, values in results.items()}))


if __name__ == "__main__":
    main()
