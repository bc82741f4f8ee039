"""A step of an import run beside its walk of pages: started in a thread of its own when the walk reaches a point,
and waited for where the run needs it done (or run there, if the walk never reached that point).

The chart of accounts is refreshed this way once the last page has arrived: its calls to the package then go
while the last pages are written, instead of after them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from providers.base import Page


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


def on_last_page(pages: Iterator[Page], reached: Callable[[], None]) -> Iterator[Page]:
    """`pages`, calling `reached()` as the last one (the page without a cursor) comes, before it is handed on."""
    for page in pages:
        if page.cursor is None:
            reached()
        yield page
