"""The console's static files: compressed for a browser that accepts gzip, kept a year under a URL that names
their content (so a new release is never served stale), revalidated otherwise; an icon; nothing but the
static folder's files. Pages themselves are never compressed (they carry the form token beside what a user
typed: compressing both together would leak the token to a BREACH attack)."""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fangpin.api.main import create_app
from fangpin.web.assets import STATIC, Assets

ECHARTS = STATIC / "vendor" / "echarts.min.js"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("static")
    with TestClient(create_app(f"sqlite:///{folder / 'fangpin.db'}")) as test_client:
        yield test_client


def raw(client: TestClient, url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    """The answer's headers and its bytes as sent (not decompressed)."""
    with client.stream("GET", url, headers=headers) as response:
        return {"status": str(response.status_code), **response.headers}, b"".join(response.iter_raw())


def linked(client: TestClient) -> dict[str, str]:
    """The static files the sign-in page names: file name -> URL as written in the page."""
    page = client.get("/console/login").text
    return {re.sub(r"\?.*", "", url).removeprefix("/console/static/"): url
            for url in re.findall(r'(?:href|src)="(/console/static/[^"]+)"', page)}


def test_every_static_file_a_page_names_carries_the_hash_of_its_content(client: TestClient) -> None:
    urls = linked(client)
    assert {"console.css", "console.js", "favicon.svg", "favicon.ico"} <= set(urls)
    for name, url in urls.items():
        digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
        assert url == f"/console/static/{name}?v={digest}"
        headers, _ = raw(client, url)
        assert headers["status"] == "200"
        assert headers["cache-control"] == "public, max-age=31536000, immutable", name


def test_without_the_current_hash_a_file_is_revalidated_not_kept(client: TestClient) -> None:
    for url in ("/console/static/console.css", "/console/static/console.css?v=000000000000"):
        headers, _ = raw(client, url)
        assert headers["cache-control"] == "no-cache"
        etag = headers["etag"]
        again, body = raw(client, url, **{"If-None-Match": etag})
        assert again["status"] == "304" and body == b""
    changed, _ = raw(client, "/console/static/console.css", **{"If-None-Match": '"0123456789ab"'})
    assert changed["status"] == "200"


def test_a_new_release_gets_new_urls(tmp_path: Path) -> None:
    (tmp_path / "console.css").write_text("body { color: black; }")
    before = Assets(tmp_path).url("console.css")
    (tmp_path / "console.css").write_text("body { color: red; }")
    after = Assets(tmp_path).url("console.css")  # the next process, after the upgrade
    assert before != after and after.startswith("/console/static/console.css?v=")


def test_echarts_script_and_stylesheet_go_compressed_to_a_browser_that_accepts_gzip(client: TestClient) -> None:
    urls = linked(client)
    for url, source in ((urls["console.js"], STATIC / "console.js"), (urls["console.css"], STATIC / "console.css"),
                        ("/console/static/vendor/echarts.min.js", ECHARTS)):
        headers, body = raw(client, url, **{"Accept-Encoding": "gzip, deflate, br"})
        assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding", url
        assert int(headers["content-length"]) == len(body)
        assert gzip.decompress(body) == source.read_bytes()
    headers, body = raw(client, "/console/static/vendor/echarts.min.js", **{"Accept-Encoding": "gzip"})
    assert len(ECHARTS.read_bytes()) > 1_000_000 and len(body) < 400_000  # a third on the wire
    plain_headers, plain = raw(client, "/console/static/vendor/echarts.min.js", **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain_headers and plain == ECHARTS.read_bytes()
    assert plain_headers["etag"] != headers["etag"]  # two representations, two tags
    refused, _ = raw(client, "/console/static/console.css", **{"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused


def test_the_icon_is_shipped_as_svg_and_ico(client: TestClient) -> None:
    urls = linked(client)
    svg, body = raw(client, urls["favicon.svg"])
    assert svg["content-type"] == "image/svg+xml" and body.startswith(b"<svg")
    ico, body = raw(client, urls["favicon.ico"])
    assert ico["content-type"] == "image/x-icon"
    reserved, kind, count = struct.unpack("<HHH", body[:6])
    assert (reserved, kind) == (0, 1) and count >= 2  # an icon file with several sizes
    sizes = [body[6 + 16 * i] for i in range(count)]
    assert 16 in sizes and 32 in sizes


def test_only_the_static_folders_files_with_get(client: TestClient) -> None:
    for url in ("/console/static/../__init__.py", "/console/static/%2e%2e/assets.py", "/console/static/nothing.js",
                "/console/static/vendor", "/console/static/"):
        headers, body = raw(client, url)
        assert headers["status"] == "404", url
        assert b"import" not in body
    assert client.post("/console/static/console.css").status_code == 405
    head = client.head("/console/static/console.css")
    assert head.status_code == 200 and head.content == b""


def test_pages_are_not_compressed(client: TestClient) -> None:
    headers, _ = raw(client, "/console/login", **{"Accept-Encoding": "gzip"})
    assert headers["status"] == "200" and "content-encoding" not in headers
