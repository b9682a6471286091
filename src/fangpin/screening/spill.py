"""Frames a screening holds on disk, by partition, so that memory holds one partition at a time.

A ``Spill`` is one kind of rows (the register, the members, an export's events, the facts, the decisions)
in ``count`` partitions; each partition is a sequence of chunk files (Arrow IPC, uncompressed: lz4 cost a
partitioned run's linking a fifth more time for a third of the disk; held in memory when there is one
partition) in the order they were added, so a partition read back has its rows in the order they were
written. Small pieces added one after another are written together (``FILE_BYTES``, ``BUFFER_BYTES``). Rows
are placed in a partition by the hash of a key (``partitions.split``): rows with the same key are always in
the same partition; or by ranges of a key (``add_ranges``, ``partitions.ranges``): partition i's keys all
come before partition i+1's, so partitions that are each sorted are, one after the other, in the key's order
(``ranged``: no merge to read them in order).

A partition's files are written on a thread of their own (``_write``), beside the work that made the rows:
polars writes outside the interpreter lock, so writing ~6 GiB of spills at 1M households in ten partitions
no longer waits on the disk between chunks. What is waiting to be written is bounded (``IN_FLIGHT_BYTES``);
a partition is read only once its writes are done, and a failed write fails the read.

Spills live in one private folder per run (``spill_root``: owner-only, as the rows are personal data),
removed when the run ends, whatever way it ends.

Length: over 300 lines because a spill is one thing with its writer, its buffering of small pieces, its
ranges and its private folder (swept of killed runs' folders); split apart, each part would reach into the
others' state.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import polars as pl

from fangpin.private import private_dir
from fangpin.screening import partitions


class Spill:
    def __init__(self, root: Path, name: str, count: int, schema: Mapping[str, pl.DataType] | None = None,
                 *, hold: bool | None = None, ranged: bool = False) -> None:
        """``hold``: the chunks are kept in memory rather than written; by default when there is one partition
        (the run's rows fit its memory budget, ``partitions.plan``: writing them would only cost time).
        ``ranged``: the partitions are ranges of a key in order (``add_ranges``)."""
        if count < 1:
            raise ValueError("a spill has at least one partition")
        self.folder = root / name
        self.folder.mkdir(parents=True, exist_ok=False)
        self.count = count
        self.schema: dict[str, pl.DataType] | None = dict(schema) if schema is not None else None
        self._chunks: list[list[Path]] = [[] for _ in range(count)]
        self._held: list[list[pl.DataFrame]] | None = [[] for _ in range(count)] if (
            count == 1 if hold is None else hold) else None
        self._writes: list[list[Future[None]]] = [[] for _ in range(count)]
        self._pending: list[list[pl.DataFrame]] = [[] for _ in range(count)]  # not yet handed to the writer
        self._pending_bytes = [0] * count  # of each partition's waiting pieces (``FILE_BYTES``)
        # What the waiting pieces keep in memory (``BUFFER_BYTES``): a piece added alone, its own size
        # (``_alone``, by partition); the pieces of a frame split between the partitions, the whole frame's
        # (``_shared``), until no partition has a piece waiting: they share its buffers
        self._alone = [0] * count
        self._shared = 0
        self._made = 0
        self._sealed = False  # read once: every partition's waiting pieces were handed to the writer
        self._schemas: list[set[tuple[tuple[str, pl.DataType], ...]]] = [set() for _ in range(count)]
        self._lock = threading.RLock()
        self.height = 0
        self.ranged = ranged
        self._cuts: pl.Series | None = None  # of a spill by ranges, once the first rows are added

    def add(self, index: int, frame: pl.DataFrame) -> None:
        """Append ``frame``'s rows to partition ``index``."""
        if self.schema is None:
            self.schema = dict(frame.schema)
        if frame.height == 0:
            return
        with self._lock:
            if self._take(index, frame, alone=True) and self._buffered >= BUFFER_BYTES:
                self._flush_all()

    def _add_parts(self, frame: pl.DataFrame, parts: Iterator[pl.DataFrame]) -> None:
        """Append the parts of ``frame``, part i to partition i. While any waits to be written, the whole of
        ``frame`` is kept: a part taken from it by rows (``partitions.split``, ``ranges``) copies its strings'
        views, not their bytes, so it holds ``frame``'s string buffers. Counting a part's own size, the waiting
        parts of a spill of many partitions kept many times what was counted (a 5M run's linking, 14
        partitions, held ~0.4 GiB more than a 1M run's in 3 for the same waiting bytes)."""
        if self.schema is None:
            self.schema = dict(frame.schema)
        with self._lock:
            waiting = False
            for index, part in enumerate(parts):
                if part.height:
                    waiting = self._take(index, part, alone=False) or waiting
            if waiting:
                self._shared += int(frame.estimated_size())
                if self._buffered >= BUFFER_BYTES:
                    self._flush_all()

    def _take(self, index: int, frame: pl.DataFrame, *, alone: bool) -> bool:
        """Partition ``index`` takes ``frame``; whether it waits to be written (not held, not yet a file).
        Small pieces (a chunk of the drop split into every partition) wait to be written together: a file per
        piece made the files grow as partitions x chunks, and each costs its own opening and closing."""
        self.height += frame.height
        if self._held is not None:
            self._held[index].append(frame)
            return False
        size = int(frame.estimated_size())
        self._pending[index].append(frame)
        self._pending_bytes[index] += size
        if alone:
            self._alone[index] += size
        if self._pending_bytes[index] >= FILE_BYTES:
            self._flush(index)
            return False
        return True

    @property
    def _buffered(self) -> int:
        """What the waiting pieces keep in memory, as counted for ``BUFFER_BYTES``."""
        return self._shared + sum(self._alone)

    def _flush_all(self) -> None:
        for index in range(self.count):
            self._flush(index)

    def _flush(self, index: int) -> None:
        """Hand partition ``index``'s waiting pieces to the writer, as one file."""
        pieces, self._pending[index] = self._pending[index], []
        self._forget(index)
        if not pieces:
            return
        frame = pieces[0] if len(pieces) == 1 else pl.concat(pieces, how="diagonal_relaxed", rechunk=False)
        self._made += 1  # a name never used again: a dropped partition's files may still be being deleted
        path = self.folder / f"{index:05d}-{self._made:06d}.arrow"
        self._writes[index].append(_write(frame, path))
        self._chunks[index].append(path)
        self._schemas[index].add(tuple(frame.schema.items()))

    def flush(self) -> None:
        """Hand every partition's waiting pieces to the writer; done by the first read of any partition (a
        spill is read once the pass that made it is over). Waiting pieces are bounded per spill
        (``BUFFER_BYTES``), but kept until their own partition was read they were held beside the passes
        after, some spills at once: a 5M-household run (14 partitions, whose pieces seldom reach
        ``FILE_BYTES``) held 265 MiB of them as linking began, against 87 MiB at 1M in 3."""
        if self._held is not None:
            return
        with self._lock:
            self._flush_all()

    def _forget(self, index: int) -> None:
        """Partition ``index`` has no piece waiting any more (written or dropped)."""
        self._pending_bytes[index] = 0
        self._alone[index] = 0
        if not any(self._pending):  # no waiting part of a split frame is left: none of them is kept
            self._shared = 0

    def _written(self, index: int) -> None:
        """Write partition ``index``'s waiting pieces and wait for its writes (raising a failed one's error).
        Two threads may read one spill (the result files and storing read the decisions): the second waits
        for the writes the first is waiting for."""
        with self._lock:
            if not self._sealed:
                self._sealed = True
                self.flush()
            self._flush(index)
            for write in self._writes[index]:
                write.result()
            self._writes[index] = []

    def add_split(self, frame: pl.DataFrame, key: str) -> None:
        """Append ``frame``'s rows, each to the partition of its ``key``'s hash, keeping their order."""
        if self.ranged:
            raise ValueError(f"the spill {self.folder.name} is by ranges, not by hash")
        if self.schema is None:
            self.schema = dict(frame.schema)
        self._add_parts(frame, partitions.split(frame, key, self.count))

    def add_ranges(self, frame: pl.DataFrame, key: str, cuts: pl.Series | None = None) -> None:
        """Append ``frame``'s rows, each to the partition of its ``key``'s range (``partitions.ranges``), keeping
        their order: a spill made with ``ranged``. The ranges are cut at ``cuts`` if given, else where the
        first rows added cut evenly (``partitions.bounds``: rows that come one hash partition at a time are a
        fair sample of every key); the same cuts for every frame of the spill."""
        if not self.ranged:
            raise ValueError(f"the spill {self.folder.name} is by hash, not by ranges")
        if self.schema is None:
            self.schema = dict(frame.schema)
        if cuts is None:
            if self._cuts is None:
                if frame.height == 0:
                    return
                self._cuts = partitions.bounds(frame[key], self.count)
            cuts = self._cuts
        self._add_parts(frame, partitions.ranges(frame, key, cuts, self.count))

    def read(self, index: int) -> pl.DataFrame:
        """Partition ``index``, its rows in the order they were added."""
        self._written(index)
        if self._held is None and self._chunks[index] and len(self._schemas[index]) == 1:
            # files of one schema: one scan of them all, read in parallel (twice as fast as file by file)
            return pl.scan_ipc(self._chunks[index], glob=False).collect()
        frames = [pl.read_ipc(path) for path in self._chunks[index]] if self._held is None else self._held[index]
        if not frames:
            return pl.DataFrame(schema=self.schema or {})
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed", rechunk=False)

    def files(self, index: int) -> list[Path]:
        """Partition ``index``'s chunk files, in the order they were added (for a lazy scan of it, or another
        process): a spill made with ``hold=False``."""
        if self._held is not None:
            raise ValueError(f"the spill {self.folder.name} holds its rows in memory: it has no files")
        self._written(index)
        return list(self._chunks[index])

    def empty(self, index: int) -> bool:
        with self._lock:  # not while another thread moves its waiting pieces to a file
            return not (self._chunks[index] or self._pending[index] if self._held is None else self._held[index])

    def chunks(self, index: int, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """Partition ``index`` one chunk at a time (``columns`` of it), in the order they were added."""
        if self._held is not None:
            for frame in self._held[index]:
                yield frame if columns is None else frame.select(columns)
            return
        self._written(index)
        for path in self._chunks[index]:
            yield pl.read_ipc(path, columns=columns)

    def parts(self) -> Iterator[pl.DataFrame]:
        for index in range(self.count):
            yield self.read(index)

    def drop(self, index: int) -> None:
        """Delete partition ``index``'s files once read for the last time (the disk holds less), on a thread of
        their own: freeing a file's blocks takes a while, and nothing waits for it but the end of the run."""
        with self._lock:
            self._pending[index] = []  # never written: nothing reads them again
            self._forget(index)
            for write in self._writes[index]:  # not deleted before written: the threads keep no order between them
                with suppress(OSError):  # a failed write: its file is deleted all the same
                    write.result()
            self._writes[index] = []
        if self._chunks[index]:
            _unlinking.append(_thread(_deleters, "fangpin-spill-unlink").submit(_unlink, self._chunks[index]))
        self._chunks[index] = []
        self._schemas[index] = set()
        if self._held is not None:
            self._held[index] = []

    @classmethod
    def of(cls, root: Path, name: str, frame: pl.DataFrame, key: str, count: int) -> Spill:
        """A spill of a frame held in memory, by ``key``."""
        spill = cls(root, name, count, frame.schema)
        spill.add_split(frame, key)
        return spill


FILE_BYTES = 8 << 20  # a partition's waiting pieces are written as one file once they reach this size
BUFFER_BYTES = 32 << 20  # or every partition's, once what a spill's waiting pieces keep reaches this (``_buffered``:
#                          the whole frames they were split from): bounded whatever the count of partitions
IN_FLIGHT_BYTES = 256 << 20  # rows handed to the writer and not yet written, at most (``estimated_size``)

_LAYOUT = pl.CompatLevel.oldest()
_unlinking: list[Future[None]] = []  # deletions of dropped partitions' files not yet waited for
_deleters: list[ThreadPoolExecutor] = []
_writers: list[ThreadPoolExecutor] = []
_in_flight: deque[tuple[Future[None], int]] = deque()  # writes submitted, oldest first, with their sizes
_in_flight_lock = threading.Lock()


def _write(frame: pl.DataFrame, path: Path) -> Future[None]:
    """Write ``frame`` to ``path`` on the writer's thread, once what waits to be written leaves room for it."""
    size = int(frame.estimated_size())
    with _in_flight_lock:
        while _in_flight and (_in_flight[0][0].done() or sum(s for _, s in _in_flight) + size > IN_FLIGHT_BYTES):
            oldest, _ = _in_flight.popleft()
            with suppress(OSError):  # raised where its partition is read
                oldest.result()
        # uncompressed: written and read once or twice, soon deleted. Strings as Arrow's plain offsets and
        # bytes (the oldest layout), not polars' views: an ID number or a household's number (14-18 bytes)
        # is longer than a view holds inline, so a view costs 16 bytes beside its bytes, an offset 8. A
        # partition of events is a sixth smaller on disk, and written and read a fifth faster
        write = _thread(_writers, "fangpin-spill-write").submit(
            frame.write_ipc, path, compression="uncompressed", compat_level=_LAYOUT)
        _in_flight.append((write, size))
    return write


def _thread(pool: list[ThreadPoolExecutor], name: str) -> ThreadPoolExecutor:
    """The one thread of ``pool`` (the writer's, the deleter's), started the first time it is needed."""
    if not pool:
        pool.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix=name))
    return pool[0]


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _settle() -> None:
    """Wait for the writes and the deletions of dropped partitions begun so far."""
    with _in_flight_lock:
        while _in_flight:
            with suppress(OSError):  # the run ends: its spills are removed
                _in_flight.popleft()[0].result()
    while _unlinking:
        _unlinking.pop().result()


PREFIX = "fangpin-spill-"
OWNER = "owner.pid"  # in each run's spill folder: the process it belongs to


@contextmanager
def spill_root(parent: Path | None = None) -> Iterator[Path]:
    """A private folder for one run's spills (in ``parent``, else the system's temporary folder), removed
    at the end. The folders of runs whose process is gone (killed mid-run: nothing could remove them) are
    removed first: they hold names and ID numbers."""
    if parent is not None and not parent.exists():  # made owner-only; an existing folder is left as it is
        private_dir(parent)
    sweep(Path(parent or tempfile.gettempdir()))
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    private_dir(root)
    (root / OWNER).write_text(f"{os.getpid()} {_started(os.getpid())}", encoding="ascii")
    try:
        yield root
    finally:
        _settle()
        shutil.rmtree(root, ignore_errors=True)


def sweep(parent: Path) -> list[Path]:
    """Remove the spill folders in ``parent`` left by runs whose process has ended; the folders removed."""
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            pid_text, _, started = (folder / OWNER).read_text(encoding="ascii").partition(" ")
            alive = _started(int(pid_text)) == started
        except (OSError, ValueError):  # no owner written (an older fangpin's, or killed before): by its age
            alive = _recent(folder)
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot; Linux), "" if there is no such process: with the
    pid, it tells a process from a later one given the same pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return "alive"


def _recent(folder: Path, hours: float = 24.0) -> bool:
    try:
        return time.time() - folder.stat().st_mtime < hours * 3600
    except OSError:
        return False
