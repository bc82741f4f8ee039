"""Per-key locks (a connection's refresh, a workspace's Home) that are kept only while someone holds or waits for
one, so that a process serving thousands of workspaces does not keep a lock for every one it ever served."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """`locks(key)` is the lock of `key`: the same one for everybody while anybody holds a reference to it (a `with`
    block, a waiter), a new one after that."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[K, threading.Lock] = weakref.WeakValueDictionary()
        self._guard = threading.Lock()

    def __call__(self, key: K) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock

    def __len__(self) -> int:
        return len(self._locks)
