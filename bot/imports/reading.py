"""Reading an import's pages in a process of our own, on the machine's other core.

An import of a large organisation is bound by this process's one core: the interpreter lock lets one thread at a
time run Python, and reading a page of a package's JSON into checked records and preparing their rows (columns,
matching keys, digest: `bot.customers.rows`) cost about as much as writing them. So where a package hands its
pages over still encoded (`providers.base.Encoded`), the next page is read and prepared in a second process
(`PageReader`) while this one writes the page before, and comes back as plain tuples.

The reading process is started by the first import large enough to pay for it (`ImportPolicy.read_apart_from`
records, by the package's total) and kept for the next; until it is ready, and for any page it cannot read (it
stopped, or the body is not what the package documents), the page is read here as before, so nothing depends on
it. It holds no connection, no token and no database: a page's bytes in, its prepared records out.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from bot.customers.rows import Prepared, prepare_records, read_and_prepare
from providers.base import Customer, Encoded, Page, Skipped

log = logging.getLogger(__name__)

Read = Callable[[bytes], tuple[list[Customer], list[Skipped]]]
PARENT_WATCH_EVERY = 1.0  # seconds between the reading process's looks at whether the importing process is there


def _watch(parent: int, every: float) -> None:
    """In the reading process: end it once the process that started it is gone (killed, SIGKILL included), which
    would otherwise leave it waiting for pages forever: it holds its queue's other end itself, so no end of file
    comes."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _warm(read: Read) -> None:
    """Run first in the reading process: unpickling `read` imports its module, before the first page waits."""
    del read


class PageReader:
    """A process that reads and prepares pages (`read_and_prepare`), started on first use and shared by the
    process's imports. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._warmed: Future[None] | None = None
        self._closed = False
        self.handed = 0  # pages handed to the process, for the curious (tests, logs)

    def start(self, read: Read) -> None:
        """Start the process (in the background) unless it runs; one that stopped (killed, out of memory) is
        started again."""
        with self._lock:
            if self._closed or (self._pool is not None and not self._broken()):
                return
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch,
                initargs=(os.getpid(), PARENT_WATCH_EVERY),
            )
            with _plain_main():  # the first call starts the process
                self._warmed = self._pool.submit(_warm, read)

    def ready(self) -> bool:
        """Whether the process is up and has not stopped: a page handed to it now does not wait for it to start."""
        with self._lock:
            warmed = self._warmed
        return warmed is not None and _succeeded(warmed) and not self._broken()

    def submit(self, encoded: Encoded) -> Future[tuple[list[Prepared], list[Skipped]]] | None:
        """The page read and prepared in the process, or None if it is not running."""
        with self._lock:
            pool = self._pool
            if pool is None:
                return None
            try:
                future = pool.submit(read_and_prepare, encoded.read, encoded.body)
            except RuntimeError:  # shut down, or stopped (`BrokenProcessPool` is one): the page is read here
                return None
            self.handed += 1
            return future

    def close(self) -> None:
        with self._lock:
            pool, self._pool, self._warmed, self._closed = self._pool, None, None, True
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _broken(self) -> bool:
        """Whether the process stopped: the executor marks itself broken (`_broken`, its message, long-standing
        in CPython though not documented) as soon as it sees its process gone."""
        pool = self._pool
        return pool is None or bool(getattr(pool, "_broken", False))


def _succeeded(future: Future[Any]) -> bool:
    """Done, and neither cancelled (the reader closed) nor failed; never waits."""
    return future.done() and not future.cancelled() and future.exception() is None


@contextlib.contextmanager
def _plain_main() -> Iterator[None]:
    """A process started meanwhile does not import this one's main module: `spawn` imports it again in the new
    process (for functions defined there), and ours is the bot's command line or a bench, which import the whole
    bot (the reading process then held 126 MiB at its peak, against 65 MiB)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class ReadPage:
    """A page with its records prepared, or on their way from the reading process."""

    def __init__(
        self,
        page: Page,
        records: tuple[list[Prepared], list[Skipped]] | None = None,
        future: Future[tuple[list[Prepared], list[Skipped]]] | None = None,
    ) -> None:
        self.page, self._records, self._future = page, records, future

    def done(self) -> bool:
        """Whether `records()` will not wait, nor raise (a page the process could not read is not done: reading it
        here may raise, which must not happen with other pages' writes open)."""
        return self._future is None or _succeeded(self._future)

    def records(self) -> tuple[list[Prepared], list[Skipped]]:
        """The page's prepared records and the records it could not use; raises the package's `ProviderError` for
        a page that cannot be read at all."""
        if self._records is None:
            if self._future is not None:
                try:
                    self._records = self._future.result()
                except Exception as exc:  # the process stopped, or the body is not what the package documents
                    log.info("A page was read here: the reading process gave %s", type(exc).__name__)
            self._future = None
            if self._records is None:
                self._records = _read_here(self.page)
        return self._records


def read_ahead(pages: Iterator[Page], reader: PageReader | None, *, from_records: int | None) -> Iterator[ReadPage]:
    """`pages` as `ReadPage`s: an encoded page handed to `reader` once it is ready (started by the first page of a
    walk of at least `from_records` records), any other page read and prepared here, as it comes."""
    for page in pages:
        encoded = page.encoded
        if encoded is not None and reader is not None and from_records is not None:
            if reader.ready() and (future := reader.submit(encoded)) is not None:
                yield ReadPage(page, future=future)
                continue
            if page.total is not None and page.total >= from_records:
                reader.start(encoded.read)
        yield ReadPage(page, _read_here(page))


def _read_here(page: Page) -> tuple[list[Prepared], list[Skipped]]:
    """The page read and prepared in this process, as the reading process would (`read_and_prepare`)."""
    customers, skipped = page.records()
    return prepare_records(customers, skipped)
