"""Round trips to PostgreSQL per single check (POST /v1/checks), counted on the wire.

    python bench/round_trips.py [--checks 200]

Runs the API in this process (starlette's TestClient, one client, checks one after the other) on a fresh
schema of the PostgreSQL test database, reached through a small TCP proxy on loopback that reads the
client's side of the protocol and counts, per check:

- statements: Execute and simple Query messages (the pool's ping, BEGIN and COMMIT included);
- syncs: Sync and simple Query messages, the points where the server reports a statement or a pipeline
  done (psycopg also syncs after a pipelined BEGIN and at a pipeline's end, so syncs can exceed waits);
- turns: how often the client speaks again after the server answered: an upper bound of the round trips,
  above them when the server answers a pipeline's first statements before the client has sent the rest
  (the client did not wait for that answer).

The round trips themselves (times the client waits) follow from the code: one by one, the pool's ping,
then lock + read of the chain's end (a pipeline), the row with its chain head, the request-log row +
COMMIT (a pipeline): 4, 3 of them under the chain's lock; by group commit, per batch, the ping, BEGIN +
lock + read (a pipeline), the rows + chain head + request-log rows + COMMIT (a pipeline): 3, 2 under the
lock, and no ping while the lane has more to append.

It counts them for checks stored one by one (setting ``api_group_commit`` off, as before group commit) and
by group commit (one check at a time: a batch of one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POSTGRES = os.environ.get("FANGPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class CountingProxy:
    """Forwards loopback connections to PostgreSQL, counting what the client sends (see the module)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.counts = {"statements": 0, "syncs": 0, "turns": 0}
        self._guard = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> dict[str, int]:
        with self._guard:
            counted, self.counts = self.counts, dict.fromkeys(self.counts, 0)
        return counted

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            turn = {"speaker": "server"}
            threading.Thread(target=self._pump, args=(client, server, turn, "client"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, turn, "server"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, turn: dict[str, str], side: str) -> None:
        pending = b""
        started = False  # the client's first messages (SSLRequest, startup) have no type byte
        try:
            while data := source.recv(65536):
                with self._guard:
                    if turn["speaker"] != side:
                        turn["speaker"] = side
                        if side == "client":
                            self.counts["turns"] += 1
                    if side == "client":
                        pending += data
                        pending, started = self._messages(pending, started)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _messages(self, pending: bytes, started: bool) -> tuple[bytes, bool]:
        while True:
            if not started:
                if len(pending) < 8 or len(pending) < int.from_bytes(pending[:4], "big"):
                    return pending, started
                code = int.from_bytes(pending[4:8], "big")
                started = code not in (80877103, 80877104)  # SSL and GSS encryption requests come first
                pending = pending[int.from_bytes(pending[:4], "big"):]
                continue
            if len(pending) < 5 or len(pending) < 1 + int.from_bytes(pending[1:5], "big"):
                return pending, started
            kind = pending[:1]
            if kind in (b"S", b"Q"):
                self.counts["syncs"] += 1
            if kind in (b"E", b"Q"):
                self.counts["statements"] += 1
            pending = pending[1 + int.from_bytes(pending[1:5], "big"):]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=200)
    args = parser.parse_args()

    import sqlalchemy as sa
    from fastapi.testclient import TestClient
    from tests.support import COUNTY, document

    from fangpin.api.main import create_app
    from fangpin.db.session import dispose_all, session_scope
    from fangpin.services.users import add_user

    url = sa.make_url(POSTGRES)
    proxy = CountingProxy((url.host or "127.0.0.1", url.port or 5432))
    schema = f"rt_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False) + f"?options=-csearch_path%3D{schema}"
    key = Path(f"/tmp/fangpin-round-trips-{schema}.key")
    os.environ["FANGPIN_CHAIN_KEY_FILE"] = str(key)
    try:
        with session_scope(proxied) as session:
            token = add_user(session, "surveyor", "surveyor", COUNTY)
        print(f"{args.checks} checks one after the other, PostgreSQL through a counting proxy:")
        for label, setting in (("one by one (group commit off)", "false"), ("group commit", "true")):
            os.environ["FANGPIN_API_GROUP_COMMIT"] = setting
            with TestClient(create_app(proxied)) as client:
                headers = {"Authorization": f"Bearer {token}"}
                for n in range(20):  # warm-up: the user remembered, the pack stored, connections open
                    assert client.post("/v1/checks", json=document(f"{COUNTY}-w{setting}{n}"),
                                       headers=headers).status_code == 201
                proxy.reset()
                for n in range(args.checks):
                    assert client.post("/v1/checks", json=document(f"{COUNTY}-{setting}{n:05d}"),
                                       headers=headers).status_code == 201
                counted = proxy.reset()
            print(f"  {label:<32} per check: {counted['statements'] / args.checks:.2f} statements, "
                  f"{counted['syncs'] / args.checks:.2f} syncs, {counted['turns'] / args.checks:.2f} turns")
    finally:
        dispose_all()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        key.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
