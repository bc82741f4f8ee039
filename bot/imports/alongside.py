"""Steps of an import run beside its walk of pages, in threads of their own.

`Alongside`: started when the walk reaches a point, and waited for where the run needs it done (or run there, if
the walk never reached that point). The chart of accounts is refreshed this way once the last page has arrived: its
calls to the package then go while the last pages are written, instead of after them.

`Coalesced`: run each time the walk asks, one run at a time. PostgreSQL's statistics are refreshed this way while
a large import grows the tables, while the pages after go on being written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from providers.base import Page

log = logging.getLogger(__name__)


class Alongside:
    """`step` run once: in a thread from `start()`, or by `finish()` itself when nothing started it. `finish()`
    waits for it and raises what it raised, as if it had run there."""

    def __init__(self, step: Callable[[], None], *, name: str) -> None:
        self._step, self._name = step, name
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    @property
    def started(self) -> bool:
        """Whether `start()` set it going in a thread of its own (then `finish()` only waits for it)."""
        return self._thread is not None

    def finish(self) -> None:
        if self._thread is None:
            self._step()
            return
        self._thread.join()
        if self._error is not None:
            raise self._error

    @contextmanager
    def joined(self) -> Iterator[None]:
        """Wherever the block ends (a stop, a take-over, an error), a step started in its thread has ended too, so
        nothing it uses (the package's client) is closed under it."""
        try:
            yield
        finally:
            if self._thread is not None:
                self._thread.join()

    def _run(self) -> None:
        try:
            self._step()
        except BaseException as exc:  # raised again by `finish()`, in the run's own thread
            self._error = exc


class Coalesced:
    """`step` run in a thread of its own each time `start()` asks, one run at a time: asked while it runs, it runs
    once more when done (however often it was asked meanwhile), so the last run began after the last ask. `wait()`
    returns once every run asked for has ended. `step` reports its own failures: one that raises is logged."""

    def __init__(self, step: Callable[[], None], *, name: str) -> None:
        self._step, self._name = step, name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def wait(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    @contextmanager
    def joined(self) -> Iterator[None]:
        """Wherever the block ends, the runs asked for have ended too (nothing uses the database after it)."""
        try:
            yield
        finally:
            self.wait()

    def _run(self) -> None:
        again = True
        while again:
            try:
                self._step()
            except Exception:
                log.exception("%s failed", self._name)
            finally:
                with self._lock:
                    again, self._again = self._again, False
                    if not again:
                        self._thread = None


def on_last_page(pages: Iterator[Page], reached: Callable[[], None]) -> Iterator[Page]:
    """`pages`, calling `reached()` as the last one (the page without a cursor) comes, before it is handed on."""
    for page in pages:
        if page.cursor is None:
            reached()
        yield page
