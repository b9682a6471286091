"""Packs loaded once per process: loading and compiling a pack costs milliseconds, far more than deciding
with it. The cache knows nothing of where packs come from: its owner gives the loaders (the services give
the shipped or named folders, and the packs stored with decisions)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from fangpin.config import get_settings
from fangpin.packs.loader import Pack

# the pack in force for a policy year: the one in a named pack's folder, else from a folder of packs (None: the
# setting rules_dir, else the shipped packs)
Resolve = Callable[[int, Path | None, Path | None], Pack]


class PackCache:
    """Packs by policy year (and the folder they come from) and by hash, and which packs are known to be
    stored in which database. Thread-safe: one thread loads a pack, the others wait for its result."""

    def __init__(self, resolve: Resolve) -> None:
        self._resolve = resolve
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        self._by_year: dict[tuple[int, str | None, str | None], Pack] = {}
        self._by_hash: dict[str, Pack] = {}
        self._stored: set[tuple[str, str]] = set()

    def for_year(self, year: int, pack_dir: Path | None = None, rules_dir: Path | None = None) -> Pack:
        # keyed by the folder the packs come from: a named pack, else a named folder of packs, else the
        # rules_dir setting, else the shipped packs (the settings are read only when no folder is named)
        configured = None if pack_dir else rules_dir or get_settings().rules_dir
        key = (year, str(pack_dir) if pack_dir else None, str(configured) if configured else None)
        pack = self._by_year.get(key)
        if pack is None:
            with self._loading:
                pack = self._by_year.get(key)
                if pack is None:
                    pack = self._resolve(year, pack_dir, None if pack_dir else rules_dir)
                    with self._lock:
                        self._by_year[key] = pack
                        self._by_hash.setdefault(pack.hash, pack)
        return pack

    def by_hash(self, pack_hash: str, load: Callable[[], Pack]) -> Pack:
        """The pack with this hash: one already loaded, else ``load()``'s (called once)."""
        pack = self._by_hash.get(pack_hash)
        if pack is None:
            with self._loading:
                pack = self._by_hash.get(pack_hash)
                if pack is None:
                    pack = load()
                    with self._lock:
                        self._by_hash[pack_hash] = pack
        return pack

    def known_stored(self, database: str, pack_hash: str) -> bool:
        return (database, pack_hash) in self._stored

    def remember_stored(self, database: str, pack_hash: str) -> None:
        """Only a pack seen committed: one a transaction inserts may yet be rolled back."""
        with self._lock:
            self._stored.add((database, pack_hash))
