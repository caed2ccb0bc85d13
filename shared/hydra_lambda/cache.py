"""Per-container caches: the one helper behind every value a warm container keeps between invocations.

Each cache has a time-to-live read from settings at every lookup (so a test or a restored snapshot sees
a changed setting), a bound on its entries (past it the cache starts over: memory stays bounded) and a
name. Every cache registers itself, so ``clear_all`` forgets what any of them holds: what a SnapStart
restore calls, since a snapshot may carry state read for another container.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

from hydra_lambda import clock

K = TypeVar("K")
V = TypeVar("V")

_registry: list[TimedCache[object, object]] = []
_restore_hooks: list[Callable[[], None]] = []


def forever() -> float:
    """The time-to-live of a cache whose entries never go stale (derived from their key alone)."""
    return math.inf


class TimedCache(Generic[K, V]):
    """``key -> value`` remembered for ``max_age()`` seconds on the injectable clock; 0 or less: off."""

    def __init__(
        self, name: str, max_age: Callable[[], float], max_entries: int = 1024, keep_on_restore: bool = False
    ) -> None:
        self.name = name
        # True only for what is the same in every container (SDK clients made before a snapshot, with
        # no connection open): a restore keeps them, so SnapStart's priming is not thrown away.
        self.keep_on_restore = keep_on_restore
        self._max_age = max_age
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        _registry.append(self)  # type: ignore[arg-type]

    @property
    def enabled(self) -> bool:
        return self._max_age() > 0

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        age = clock.now() - hit[0]
        if 0 <= age < self._max_age():
            return hit[1]
        self._entries.pop(key, None)
        return None

    def put(self, key: K, value: V) -> V:
        if not self.enabled:
            return value
        if len(self._entries) >= self._max_entries and key not in self._entries:
            self._entries.clear()
        self._entries[key] = (clock.now(), value)
        return value

    def get_or_load(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The cached value, else ``load()`` kept when it is not None (a miss is never remembered)."""
        if self.enabled:
            hit = self.get(key)
            if hit is not None:
                return hit
        value = load()
        if value is None:
            self._entries.pop(key, None)
            return None
        return self.put(key, value)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def clear_all(restore: bool = False) -> None:
    """Forget every per-container cache (tests), or after a SnapStart restore (``restore``) every one
    that may hold another container's state."""
    for cache in _registry:
        if not (restore and cache.keep_on_restore):
            cache.clear()


def on_restore(func: Callable[[], None]) -> Callable[[], None]:
    """Decorator: ``func`` runs after every SnapStart restore (a module regenerating what it made random
    at import), in registration order, before the caches are emptied. Kept here, a leaf module, so that
    the modules using it do not import ``snapstart`` (which imports the whole layer)."""
    _restore_hooks.append(func)
    return func


def restored() -> None:
    """After a restore: each module's ``on_restore`` hook, then every cache that may hold another
    container's state is emptied."""
    for hook in _restore_hooks:
        hook()
    clear_all(restore=True)
