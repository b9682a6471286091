"""The console's static files (stylesheet, script, ECharts, icons), served compressed and cached.

Every page names an asset by a versioned URL, ``/console/static/console.css?v=<hash>`` (``static_url``), the
hash being the first 12 hex digits of the file's sha256. Asked for with the hash it has now, an asset is
answered ``Cache-Control: public, max-age=31536000, immutable``: a browser keeps it a year without asking
again, and a new release, whose files hash differently, is asked for under new URLs, so it is never served
stale. Asked for without the hash (or with an old one), it is answered ``no-cache`` with an ``ETag``: the
browser asks each time and gets 304 while the file is unchanged.

Text assets (CSS, JavaScript, SVG, the licences) are sent gzip-compressed to a browser that accepts it
(``Vary: Accept-Encoding``): ECharts' 1 MB is about a third of that on the wire. They are compressed once per
process, on first request, and kept in memory beside the file's bytes; nothing is written to the package.
Only the files in the static folder are served (names are looked up in its listing, never joined onto a
path), with GET and HEAD.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
PREFIX = "/console/static"
YEAR = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
TYPES = {
    ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
    ".ico": "image/x-icon", ".png": "image/png", ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # the licence files (ECHARTS-LICENSE, ECHARTS-NOTICE)
}
COMPRESSIBLE = (".css", ".js", ".svg", ".md", "")
MIN_COMPRESS = 512  # bytes: below this, gzip's header costs more than it saves


@dataclass(frozen=True)
class Asset:
    name: str  # relative to the static folder, with forward slashes
    body: bytes
    digest: str  # 12 hex digits of the sha256 of body
    media_type: str
    gzipped: bytes | None

    def etag(self, gzipped: bool) -> str:
        """One tag per representation: the compressed bytes differ from the file's."""
        return f'"{self.digest}-gz"' if gzipped else f'"{self.digest}"'


class Assets:
    """The static folder's files, read, hashed and (text) compressed once per process, on first use."""

    def __init__(self, folder: Path = STATIC) -> None:
        self.folder = folder
        self._assets: dict[str, Asset] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Asset]:
        assets: dict[str, Asset] = {}
        for path in sorted(self.folder.rglob("*")):
            if not path.is_file() or path.name.startswith(".") or path.suffix == ".gz":
                continue
            suffix = path.suffix.lower()
            if suffix not in TYPES:
                continue
            body = path.read_bytes()
            gzipped = None
            if suffix in COMPRESSIBLE and len(body) >= MIN_COMPRESS:
                gzipped = gzip.compress(body, compresslevel=9, mtime=0)
                gzipped = gzipped if len(gzipped) < len(body) else None
            name = path.relative_to(self.folder).as_posix()
            assets[name] = Asset(name, body, hashlib.sha256(body).hexdigest()[:12], TYPES[suffix], gzipped)
        return assets

    @property
    def files(self) -> dict[str, Asset]:
        if self._assets is None:
            with self._lock:
                if self._assets is None:
                    self._assets = self._load()
        return self._assets

    def url(self, name: str) -> str:
        """The versioned URL of a static file: ``/console/static/<name>?v=<hash>``."""
        asset = self.files.get(name)
        if asset is None:
            raise KeyError(f"no static file {name!r} in {self.folder}")
        return f"{PREFIX}/{name}?v={asset.digest}"

    def respond(self, request: Request, name: str) -> Response:
        asset = self.files.get(name)
        if request.method not in ("GET", "HEAD"):
            return Response(status_code=405, headers={"Allow": "GET, HEAD"})
        if asset is None:
            # the console's error page, in Chinese (api/errors.py answers it under the console's prefix)
            raise HTTPException(404, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        versioned = request.query_params.get("v") == asset.digest
        gzip_ok = asset.gzipped is not None and _accepts_gzip(request.headers)
        headers = {
            "Cache-Control": YEAR if versioned else REVALIDATE,
            "ETag": asset.etag(gzip_ok),
            "X-Content-Type-Options": "nosniff",
        }
        if asset.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if headers["ETag"] in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        body = asset.gzipped if gzip_ok and asset.gzipped is not None else asset.body
        if gzip_ok:
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        return Response(b"" if request.method == "HEAD" else body, media_type=asset.media_type, headers=headers)


def _accepts_gzip(headers: Headers) -> bool:
    for part in headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class StaticApp:
    """The ASGI app mounted at ``/console/static``."""

    def __init__(self, assets: Assets) -> None:
        self.assets = assets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        name = scope.get("path", "").removeprefix(scope.get("root_path", "")).lstrip("/")
        response = self.assets.respond(request, name)
        await response(scope, receive, send)


ASSETS = Assets()


def static_url(name: str) -> str:
    return ASSETS.url(name)
