"""Frames a screening holds on disk, by partition, so that memory holds one partition at a time.

A ``Spill`` is one kind of rows (the register, the members, an export's events, the facts, the decisions)
in ``count`` partitions; each partition is a sequence of chunk files (Arrow IPC, lz4) in the order they were
added, so a partition read back has its rows in the order they were written. Rows are placed in a partition
by the hash of a key (``partitions.split``): rows with the same key are always in the same partition.

Spills live in one private folder per run (``spill_root``: owner-only, as the rows are personal data),
removed when the run ends, whatever way it ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from fangpin.private import private_dir
from fangpin.screening.partitions import split


class Spill:
    def __init__(self, root: Path, name: str, count: int, schema: Mapping[str, pl.DataType] | None = None) -> None:
        if count < 1:
            raise ValueError("a spill has at least one partition")
        self.folder = root / name
        self.folder.mkdir(parents=True, exist_ok=False)
        self.count = count
        self.schema: dict[str, pl.DataType] | None = dict(schema) if schema is not None else None
        self._chunks: list[list[Path]] = [[] for _ in range(count)]
        self.height = 0

    def add(self, index: int, frame: pl.DataFrame) -> None:
        """Append ``frame``'s rows to partition ``index``."""
        if self.schema is None:
            self.schema = dict(frame.schema)
        if frame.height == 0:
            return
        path = self.folder / f"{index:05d}-{len(self._chunks[index]):06d}.arrow"
        frame.write_ipc(path, compression="lz4")
        self._chunks[index].append(path)
        self.height += frame.height

    def add_split(self, frame: pl.DataFrame, key: str) -> None:
        """Append ``frame``'s rows, each to the partition of its ``key``, keeping their order."""
        if self.schema is None:
            self.schema = dict(frame.schema)
        for index, part in enumerate(split(frame, key, self.count)):
            self.add(index, part)

    def read(self, index: int) -> pl.DataFrame:
        """Partition ``index``, its rows in the order they were added."""
        chunks = self._chunks[index]
        if not chunks:
            return pl.DataFrame(schema=self.schema or {})
        frames = [pl.read_ipc(path) for path in chunks]
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed", rechunk=False)

    def files(self, index: int) -> list[Path]:
        """Partition ``index``'s chunk files, in the order they were added (for a lazy scan of it)."""
        return list(self._chunks[index])

    def chunks(self, index: int, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """Partition ``index`` one chunk at a time (``columns`` of it), in the order they were added."""
        for path in self._chunks[index]:
            yield pl.read_ipc(path, columns=columns)

    def parts(self) -> Iterator[pl.DataFrame]:
        for index in range(self.count):
            yield self.read(index)

    def drop(self, index: int) -> None:
        """Delete partition ``index``'s files once read for the last time (the disk holds less)."""
        for path in self._chunks[index]:
            path.unlink(missing_ok=True)
        self._chunks[index] = []

    @classmethod
    def of(cls, root: Path, name: str, frame: pl.DataFrame, key: str, count: int) -> Spill:
        """A spill of a frame held in memory, by ``key``."""
        spill = cls(root, name, count, frame.schema)
        spill.add_split(frame, key)
        return spill


@contextmanager
def spill_root(parent: Path | None = None) -> Iterator[Path]:
    """A private folder for one run's spills (in ``parent``, else the system's temporary folder), removed
    at the end."""
    root = Path(tempfile.mkdtemp(prefix="fangpin-spill-", dir=parent))
    private_dir(root)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
