"""Draw the console's icons from src/fangpin/web/static/favicon.svg with Debian's chromium (Playwright), once,
when the SVG changes: favicon.ico (16, 32 and 48 px PNGs in one .ico, for browsers without SVG icons) and
apple-touch-icon.png (180 px, square: a phone rounds the corners of a home-screen icon itself).

    .venv/bin/python tools/render_icons.py
"""

from __future__ import annotations

import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

STATIC = Path(__file__).resolve().parents[1] / "src" / "fangpin" / "web" / "static"
ICO_SIZES = (16, 32, 48)
TOUCH = 180


def render(svg: str, sizes: tuple[int, ...]) -> dict[int, bytes]:
    pngs: dict[int, bytes] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        for size in sizes:
            page = browser.new_page(viewport={"width": size, "height": size})
            body = svg.replace("<svg ", f'<svg width="{size}" height="{size}" ', 1)
            if size == TOUCH:
                body = body.replace('rx="6"', 'rx="0"')
            page.set_content(f'<html><body style="margin:0;background:transparent">{body}</body></html>')
            pngs[size] = page.screenshot(omit_background=True, clip={"x": 0, "y": 0, "width": size, "height": size})
            page.close()
        browser.close()
    return pngs


def ico(pngs: dict[int, bytes]) -> bytes:
    """An .ico holding PNG images (every browser since 2010 and Windows since Vista read these)."""
    entries, data = b"", b""
    offset = 6 + 16 * len(pngs)
    for size, png in sorted(pngs.items()):
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset + len(data))
        data += png
    return struct.pack("<HHH", 0, 1, len(pngs)) + entries + data


def main() -> None:
    pngs = render((STATIC / "favicon.svg").read_text("utf-8"), (*ICO_SIZES, TOUCH))
    (STATIC / "favicon.ico").write_bytes(ico({size: pngs[size] for size in ICO_SIZES}))
    (STATIC / "apple-touch-icon.png").write_bytes(pngs[TOUCH])


if __name__ == "__main__":
    main()
