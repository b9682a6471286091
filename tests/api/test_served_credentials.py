"""Disabling a user and rotating a token reach every worker of a running server within 5 seconds (issue 12):
`fangpin serve --workers 2` on SQLite and on PostgreSQL, driven over HTTP.

Each worker remembers a token it found for ``token_cache_seconds`` (2 s). The test holds keep-alive connections
to each of the two workers (it finds which worker accepted a connection from /proc: the worker whose open
files include the server side of that TCP connection), makes both remember the tokens, then disables one user
and rotates another's token with the `fangpin users` command in a third process, and polls each worker until
the old tokens are refused. The 5 seconds are the issue's requirement: with a cache as long as it was (60 s)
this test fails.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fangpin.db.session import dispose_all, session_scope
from fangpin.services.users import add_user
from tests.support import COUNTY

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the workers through /proc")]

WITHIN = 5.0  # seconds: issue 12, "Disable and rotate take effect on a running 2-worker server within 5 s"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from ``client_port`` (in /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return fields[9]
    return None


def _holder(inode: str, pids: list[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{descriptor}") == target:
                    return pid
            except OSError:
                continue
    return None


class Workers:
    """Keep-alive connections to each worker of a server, reopened on the same worker when one is dropped."""

    def __init__(self, server: subprocess.Popen[bytes], port: int) -> None:
        self.server, self.port = server, port
        self.connections: dict[int, http.client.HTTPConnection] = {}
        self.pids: list[int] = []

    def _open(self) -> tuple[int, http.client.HTTPConnection] | None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", "/v1/health")
        connection.getresponse().read()  # answered: a worker has accepted the connection
        assert connection.sock is not None
        inode = _server_socket_inode(self.port, connection.sock.getsockname()[1])
        pid = _holder(inode, self.pids) if inode else None
        if pid is None:
            connection.close()
            return None
        return pid, connection

    def connect_all(self, count: int = 2) -> None:
        deadline = time.monotonic() + 60
        while len(self.connections) < count:
            assert time.monotonic() < deadline, f"reached only workers {sorted(self.connections)} of {count}"
            self.pids = _children(self.server.pid)
            found = self._open()
            if found is not None and found[0] not in self.connections:
                self.connections[found[0]] = found[1]
            elif found is not None:
                found[1].close()

    def status(self, pid: int, token: str) -> int:
        """The status of GET /v1/claims with the token, asked of this worker."""
        for _ in range(100):
            connection = self.connections.get(pid)
            if connection is None:
                found = self._open()
                if found is None or found[0] != pid:
                    if found is not None:
                        found[1].close()
                    continue
                connection = self.connections[pid] = found[1]
            try:
                connection.request("GET", "/v1/claims", headers={"Authorization": f"Bearer {token}"})
                response = connection.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):  # the server closed an idle connection: reopen
                connection.close()
                del self.connections[pid]
        raise AssertionError(f"could not reach worker {pid} again")

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[Workers, dict[str, str], dict[str, str]]]:
    with session_scope(database_url) as session:  # migrates the database, as `fangpin serve` would
        tokens = {name: add_user(session, name, "office", COUNTY) for name in ("leaving", "rotating")}
    dispose_all()
    env = {**os.environ, "FANGPIN_DATABASE_URL": database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs"),
           "FANGPIN_LOGIN_MAX_FAILURES": "10000"}  # polling with refused tokens: 401, never the lockout's 429
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "fangpin", "serve", "--port", str(port), "--workers", "2",
                               "--log-level", "warning"], env=env)
    workers = Workers(server, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, "the server stopped"
                assert time.monotonic() < deadline, "the server did not start within a minute"
                time.sleep(0.2)
        workers.connect_all(2)
        yield workers, tokens, env
    finally:
        workers.close()
        server.terminate()
        server.wait(20)


def _fangpin(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "fangpin", *args], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _seconds_until(workers: Workers, token: str, status: int) -> float:
    """Poll every worker with the token until each answers ``status``; the seconds it took (at most a
    little over WITHIN: the test fails then)."""
    start = time.monotonic()
    waiting = set(workers.connections)
    while waiting and time.monotonic() - start <= WITHIN + 1:
        waiting = {pid for pid in waiting if workers.status(pid, token) != status}
        time.sleep(0.05)
    assert not waiting, f"workers {sorted(waiting)} still did not answer {status} after {WITHIN + 1} s"
    return time.monotonic() - start


def test_disable_and_rotate_reach_both_workers_of_a_running_server_within_five_seconds(
    served: tuple[Workers, dict[str, str], dict[str, str]],
) -> None:
    workers, tokens, env = served
    remembered = {(pid, name): workers.status(pid, token) for pid in workers.connections
                  for name, token in tokens.items()}  # each worker now remembers both tokens
    assert set(remembered.values()) == {200}, remembered

    _fangpin(env, "users", "disable", "leaving")
    disabled_after = _seconds_until(workers, tokens["leaving"], 401)
    new_token = _fangpin(env, "users", "rotate", "rotating").splitlines()[-1]
    rotated_after = _seconds_until(workers, tokens["rotating"], 401)

    assert disabled_after <= WITHIN and rotated_after <= WITHIN
    assert {workers.status(pid, new_token) for pid in workers.connections} == {200}
    assert {workers.status(pid, tokens["leaving"]) for pid in workers.connections} == {401}
    assert {workers.status(pid, tokens["rotating"]) for pid in workers.connections} == {401}
