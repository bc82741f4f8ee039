"""Reading items ahead in a background thread: while an import writes page n, the pages after it are on their way.

A package's pages are slow to arrive (a few hundred milliseconds a page, and a per-minute limit spaces
calls out) and slow to write; doing both at once takes each page max(fetch, write) instead of their sum.
At most `ahead` items are read before the reader takes them, so memory stays at a few pages, and what the source
raises reaches the reader in order, after the items before it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL = 0.05  # seconds between looks at `close()` while the reader is busy with the last item


class Prefetched(Iterator[T], Generic[T]):
    """Iterate `source` with its next `ahead` items read in a thread of its own. Call `close()` (or use `with`)
    when done early: the thread stops after the read in flight and the source is closed in that thread."""

    def __init__(self, source: Iterator[T], *, name: str = "prefetch", ahead: int = 1) -> None:
        if ahead < 1:
            raise ValueError("at least one item is read ahead")
        self._source = source
        self._ready: queue.Queue[tuple[str, object]] = queue.Queue()
        self._wanted = threading.Semaphore(ahead)  # how many items the thread may read before the reader takes one
        self._closed = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._pump, name=name, daemon=True)
        self._thread.start()

    def __iter__(self) -> Prefetched[T]:
        return self

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        kind, value = self._ready.get()
        if kind == "item":
            self._wanted.release()  # the reader has it: read the next one meanwhile
            return value  # type: ignore[return-value]
        self._ended = True
        if kind == "error":
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def ready(self, done: Callable[[T], bool] = lambda item: True) -> bool:
        """Whether the next item is here already (not an error, not the end) and `done` with it: taking it will
        not wait."""
        with self._ready.mutex:
            here = bool(self._ready.queue) and self._ready.queue[0][0] == "item"
            item = self._ready.queue[0][1] if here else None
        return here and done(item)  # type: ignore[arg-type]

    def arrives(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the next item to be here; whether it is (not an error, not the end)."""
        with self._ready.not_empty:  # the queue's own condition, notified as an entry is put
            self._ready.not_empty.wait_for(lambda: bool(self._ready.queue), max(0.0, timeout))
            return bool(self._ready.queue) and self._ready.queue[0][0] == "item"

    def waiting(self) -> list[T]:
        """The items read ahead that the reader has not taken yet, in order (a copy)."""
        with self._ready.mutex:
            return [value for kind, value in self._ready.queue if kind == "item"]  # type: ignore[misc]

    def close(self, timeout: float = 5.0) -> None:
        self._closed.set()
        self._ended = True
        self._thread.join(timeout)

    def __enter__(self) -> Prefetched[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _pump(self) -> None:
        try:
            while self._may_read():
                try:
                    item = next(self._source)
                except StopIteration:
                    self._ready.put(("end", None))
                    return
                self._ready.put(("item", item))
        except BaseException as exc:  # handed to the reader, who raises it in its own thread
            self._ready.put(("error", exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def _may_read(self) -> bool:
        while not self._closed.is_set():
            if self._wanted.acquire(timeout=_POLL):
                return not self._closed.is_set()
        return False
