"""A parse worker of a screening in partitions (``intake.parallel.WorkerSplit``): it parses its file as every
worker does, and splits the rows linking reads into the run's partitions itself (``screening.linking.Splitter``),
so that the screening's process moves their files into its spills instead of reading each chunk back, splitting
it and writing it once more (docs/scaling.md).

    python -m fangpin.services.parse_worker FILE OUT_DIR MEMORY_BYTES SOURCES_DIR PLAN
"""

from __future__ import annotations

import json
import sys

from fangpin.intake.parallel import arguments, work
from fangpin.screening.linking import Splitter


def main(argv: list[str]) -> None:
    path, out, memory, sources_dir, plan = arguments(argv)
    work(path, out, memory, sources_dir, lambda folder: Splitter(folder, json.loads(plan)) if plan else None)


if __name__ == "__main__":
    main(sys.argv)
