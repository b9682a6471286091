"""The rule engine: the only module that imports durable_rules (docs/engine.md).

One evaluation asserts one fact (the household's engine facts, integers and codes only) into a fresh
sid; every rule whose condition holds fires and records its id; the state is deleted at once (the
1024-sid cap and 32-bit sid hashes, notes §6). A private SyncHost runs no timer threads (notes §6-7),
and a lock serialises calls, so one engine is safe to share between threads (the C extension holds the
GIL anyway). Bulk screening runs one engine per worker process, created after the fork.

Every leaf of a pack's conditions compares one field with a constant, so two fact sets in the same
threshold class (``conditions.signature``) fire the same rules. ``fire`` therefore asks durable_rules
once per class and remembers the answer; ``fire(..., memo=False)`` always asks, and a test checks
that the two agree.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from durable import engine as durable_engine

from fangpin.errors import EngineError
from fangpin.packs import Pack
from fangpin.packs.conditions import signature

EngineFacts = Mapping[str, int | str]
_MEMO_LIMIT = 100_000


def _tune_malloc() -> None:
    """glibc heap trimming halves durable_rules' throughput (notes §8): raise M_TRIM_THRESHOLD."""
    with contextlib.suppress(OSError):  # not glibc: nothing to tune
        ctypes.CDLL("libc.so.6").mallopt(-1, 512 << 20)


_tune_malloc()


class _SyncHost(durable_engine.Host):  # type: ignore[misc]
    def _run(self) -> None:
        """No dispatcher or timer threads: actions run inside assert_fact, on the caller's thread."""


class PolicyEngine:
    """Evaluates one pack's compiled rules; holds no state between evaluations."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self._order = {rule.id: index for index, rule in enumerate(pack.compiled)}
        self._fired: list[str] = []
        self._lock = threading.Lock()
        self._memo: dict[tuple[object, ...], tuple[str, ...]] = {}
        ruleset = copy.deepcopy(pack.ruleset)  # set_rulesets mutates its argument (notes §3)
        for rule_id, rule in ruleset.items():
            rule["run"] = self._recorder(rule_id)
        self._host = _SyncHost()
        self._host.set_rulesets({pack.ruleset_name: ruleset})

    def _recorder(self, rule_id: str) -> Callable[[Any], None]:
        def record(_context: Any) -> None:
            self._fired.append(rule_id)

        return record

    def fire(self, facts: EngineFacts, *, memo: bool = True) -> tuple[str, ...]:
        """The ids of every rule whose condition holds for these facts, in pack order."""
        for name, value in facts.items():
            if not isinstance(value, int | str) or isinstance(value, bool):
                raise EngineError(f"engine fact {name}={value!r}: only int and str reach the engine")
        key = signature(facts, self.pack.thresholds)
        with self._lock:
            if memo and key in self._memo:
                return self._memo[key]
            fired = self._evaluate(facts)
            if memo:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[key] = fired
            return fired

    def _evaluate(self, facts: EngineFacts) -> tuple[str, ...]:
        sid = uuid.uuid4().hex
        name = self.pack.ruleset_name
        self._fired.clear()
        state: Any = None
        try:
            state = self._host.assert_fact(name, {**facts, "sid": sid})
        except durable_engine.MessageNotHandledException:
            state = {}
        except Exception as exc:
            raise EngineError(f"durable_rules failed on {dict(facts)}: {exc}") from exc
        finally:
            with contextlib.suppress(Exception):  # a state never created has nothing to delete
                self._host.delete_state(name, sid)
        if state is None or "exception" in state:
            detail = state.get("exception") if state else "no state returned"
            raise EngineError(f"a rule action failed on {dict(facts)}: {detail}")
        return tuple(sorted(set(self._fired), key=self._order.__getitem__))


_ENGINES: dict[str, PolicyEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(pack: Pack) -> PolicyEngine:
    """One engine per pack per process (a durable_rules host is never freed, notes §6)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(pack.hash)
        if engine is None:
            engine = _ENGINES[pack.hash] = PolicyEngine(pack)
        return engine
