"""Limits before work (issue 13): bodies over their limit are refused before they are read or stored,
anonymous uploads before a byte is read, and a hostile workbook fails its run while the server answers on."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.drops import far_cell_xlsx, zip_bomb_xlsx
from tests.support import COUNTY, DEMO
from tests.web.conftest import Console

GIB = 1 << 30
MIB = 1 << 20


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where uploads would be spooled and drop folders made: must stay empty when an upload is refused."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 MiB a file, 3 MiB an upload, 8 KiB any other body (requested before ``console`` builds the app)."""
    monkeypatch.setenv("FANGPIN_MAX_UPLOAD_FILE_MB", "1")
    monkeypatch.setenv("FANGPIN_MAX_UPLOAD_REQUEST_MB", "3")
    monkeypatch.setenv("FANGPIN_MAX_BODY_KB", "8")


def _multipart(client: TestClient, console: Console | None, length: int, body: bytes | Iterator[bytes]) -> Any:
    headers = {"Content-Type": "multipart/form-data; boundary=xyz", "Accept": "application/json"}
    if length:
        headers["Content-Length"] = str(length)
    if console is not None:
        headers["X-CSRF-Token"] = console.csrf(client)
    return client.post("/console/screening", content=body, headers=headers)


def _part(name: str, size: int) -> Iterator[bytes]:
    yield (b'--xyz\r\nContent-Disposition: form-data; name="year"\r\n\r\n2019\r\n'
           b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="' + name.encode() + b'"\r\n'
           b"Content-Type: text/csv\r\n\r\n")
    block = b"x" * (256 << 10)
    for _ in range(size // len(block)):
        yield block
    yield b"\r\n--xyz--\r\n"


def test_a_2_gib_upload_is_refused_before_it_is_read_anonymous_or_signed_in(console: Console,
                                                                              temp_dir: Path) -> None:
    for client, who in ((console.anonymous(), None), (console.login("office"), console)):
        response = _multipart(client, who, 2 * GIB, b"--xyz--\r\n")  # the length says 2 GiB: never read

        assert response.status_code == 413, response.text
        assert "2048 MiB" in response.json()["detail"] and "max_upload_request_mb" in response.json()["detail"]
        assert list(temp_dir.iterdir()) == []
    assert console.login("office").get("/console/screening").status_code == 200


def test_an_anonymous_upload_is_refused_before_a_byte_is_read(console: Console, temp_dir: Path) -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:
        for chunk in _part("a.csv", 4 * MIB):
            read.append(len(chunk))
            yield chunk

    client = console.anonymous()
    response = _multipart(client, None, 0, body())

    assert response.status_code == 401
    assert sum(read) <= 256 << 10  # at most what the client pushed before the answer: nothing was stored
    assert list(temp_dir.iterdir()) == []
    client.cookies.set("fangpin_console", "forged-session-id", path="/console")
    assert _multipart(client, None, 0, _part("a.csv", 2 * MIB)).status_code == 401
    assert list(temp_dir.iterdir()) == []


def test_a_streamed_upload_is_cut_off_at_the_limits(small_limits: None, console: Console, temp_dir: Path) -> None:
    office = console.login("office")

    one_file = _multipart(office, console, 0, _part("big.csv", 2 * MIB))  # over 1 MiB a file, under 3 in all
    assert one_file.status_code == 413
    assert "big.csv" in one_file.json()["detail"] and "max_upload_file_mb" in one_file.json()["detail"]
    assert list(temp_dir.iterdir()) == []

    whole = _multipart(office, console, 0, _part("big.csv", 8 * MIB))  # chunked, no length: counted
    assert whole.status_code == 413
    assert "max_upload_request_mb" in whole.json()["detail"]
    assert list(temp_dir.iterdir()) == []
    assert office.get("/v1/health").status_code == 200


def test_an_api_body_over_its_limit_is_refused_before_authentication(small_limits: None, console: Console) -> None:
    client = console.anonymous()
    response = client.post("/v1/checks", content=b"{" + b" " * (16 << 10) + b"}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "max_body_kb" in response.json()["detail"]
    small = client.post("/v1/checks", content=b"{}", headers={"Content-Type": "application/json"})
    assert small.status_code == 401  # under the limit, the request goes on to authentication


@pytest.mark.parametrize("hostile", ["bomb.xlsx", "far.xlsx"])
def test_a_hostile_workbook_fails_its_run_and_the_server_answers_on(hostile: str, console: Console,
                                                                   tmp_path: Path) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    for path in DEMO.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    if hostile == "bomb.xlsx":
        zip_bomb_xlsx(folder / hostile)
    else:  # no <dimension>: the reader itself aborts, in its own process
        far_cell_xlsx(folder / hostile, dimension=False)
    office = console.login("office")

    response = console.upload(office, folder, county=COUNTY)
    assert response.status_code == 202, response.text
    job = console.wait(office, response.json()["job_id"])

    assert job["state"] == "failed"
    assert hostile in job["error"] and ("xlsx_max_ratio" in job["error"] or "parse_memory_mb" in job["error"])
    assert office.get("/console/screening").status_code == 200
    assert console.screen_demo(office)["state"] == "done"
