"""Time the console's pages of a run with 100,000 rejected rows (the figures tests no longer assert).

    python bench/console_pages.py [--rows 100000] [--repeat 5]

The demo drop is screened into a fresh SQLite database, its rejections.csv replaced by ROWS rows, and the
office's JSON page (/console/api/runs/ID/rejections), the HTML page and the filtered CSV download are
fetched REPEAT times each in-process (TestClient): printed, the best and the median seconds of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import polars as pl
    from fastapi.testclient import TestClient

    from fangpin.api.main import create_app
    from fangpin.db.session import session_scope
    from fangpin.services.screening import ScreenRequest, screen
    from fangpin.services.users import add_user
    from fangpin.web import mount_console

    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'fangpin.db'}"
        runs_dir = Path(folder) / "runs"
        result = screen(ScreenRequest(drop=ROOT / "fixtures" / "demo", year=2019, county="130434",
                                      database_url=database_url, runs_dir=runs_dir))
        assert result.out_dir is not None
        run_id = result.run["run_id"]
        rows = args.rows
        reasons = ["bad_id_number", "bad_amount", "bad_date", "unknown_person"]
        pl.DataFrame({
            "file": [f"医保结算{i % 4}.csv" for i in range(rows)], "row": [i + 2 for i in range(rows)],
            "field": ["id_number"] * rows, "value": [f"13043419800101{i:06d}" for i in range(rows)],
            "reason": [reasons[i % 4] for i in range(rows)],
        }).write_csv(result.out_dir / "rejections.csv")
        app = create_app(database_url)
        mount_console(app, runs_dir=runs_dir)
        with session_scope(database_url) as session:
            token = add_user(session, "office", "office", "130434")
        with TestClient(app, follow_redirects=False) as client:
            login = client.post("/console/login", data={"name": "office", "token": token, "next": "/console"})
            assert login.status_code == 303, login.text
            pages = {
                "JSON page 1234 of 50 rows": (f"/console/api/runs/{run_id}/rejections", {"page": 1234, "size": 50}),
                "HTML page 3 of 100 rows": (f"/console/runs/{run_id}/rejections", {"page": 3, "size": 100}),
                "CSV download, one reason": (f"/console/runs/{run_id}/rejections.csv", {"reason": "unknown_person"}),
            }
            print(f"{rows:,} rejected rows, {args.repeat} fetches each")
            for name, (path, params) in pages.items():
                seconds = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    response = client.get(path, params=params)
                    seconds.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text[:300]
                print(f"  {name:<28} best {min(seconds):.3f} s, median {statistics.median(seconds):.3f} s, "
                      f"{len(response.content):,} bytes")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
