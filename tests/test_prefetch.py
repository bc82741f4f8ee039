"""Reading pages ahead (`bot.imports.prefetch.Prefetched`): order, errors in order, exactly `ahead` ahead, closing
early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.imports.prefetch import Prefetched


class Source:
    """A generator-like source that records how far it was read, in which thread, and whether it was closed."""

    def __init__(self, items: list[int], *, fail_after: int | None = None) -> None:
        self.items, self.fail_after = items, fail_after
        self.read: list[int] = []
        self.threads: set[str] = set()
        self.closed = threading.Event()
        self.changed = threading.Condition()
        self._it = self._generate()

    def _generate(self) -> Iterator[int]:
        try:
            for n, item in enumerate(self.items):
                if self.fail_after is not None and n == self.fail_after:
                    raise ConnectionError(f"failed reading item {n}")
                with self.changed:
                    self.read.append(item)
                    self.threads.add(threading.current_thread().name)
                    self.changed.notify_all()
                yield item
        finally:
            self.closed.set()

    def __iter__(self) -> Source:
        return self

    def __next__(self) -> int:
        return next(self._it)

    def close(self) -> None:
        self._it.close()

    def reaches(self, count: int, timeout: float = 5.0) -> bool:
        """Whether `count` items get read within `timeout` seconds (at once, if they were already)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.read) >= count, timeout)


def test_items_come_in_order_read_in_another_thread() -> None:
    source = Source(list(range(10)))
    with Prefetched(source, name="pages") as pages:
        assert list(pages) == list(range(10))
        assert next(pages, "done") == "done"  # ended stays ended
    assert source.threads == {"pages"} and source.closed.is_set()


@pytest.mark.parametrize("ahead", [1, 3])
def test_exactly_ahead_items_are_read_ahead(ahead: int) -> None:
    source = Source(list(range(10)))
    with Prefetched(source, ahead=ahead) as pages:
        assert source.reaches(ahead)
        assert not source.reaches(ahead + 1, timeout=0.2)  # nothing more until the reader takes one
        assert next(pages) == 0
        assert source.reaches(ahead + 1)  # the next one comes while the reader works on the first
        assert not source.reaches(ahead + 2, timeout=0.2)
        assert source.read == list(range(ahead + 1))


def test_the_items_waiting_are_those_read_ahead_and_not_taken() -> None:
    source = Source(list(range(10)))
    with Prefetched(source, ahead=3) as pages:
        assert source.reaches(3) and pages.waiting() == [0, 1, 2]
        assert next(pages) == 0 and source.reaches(4)
        assert pages.waiting() == [1, 2, 3]  # a copy: taking one does not change what was given
        waiting = pages.waiting()
        assert next(pages) == 1 and waiting == [1, 2, 3]
    ended = Prefetched(Source([7]), ahead=2)
    assert next(ended) == 7 and next(ended, None) is None and ended.waiting() == []
    ended.close()


def test_nothing_ahead_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Prefetched(Source([1]), ahead=0)


def test_an_error_reaches_the_reader_after_the_items_before_it() -> None:
    source = Source(list(range(5)), fail_after=3)
    pages = Prefetched(source)
    assert [next(pages), next(pages), next(pages)] == [0, 1, 2]
    with pytest.raises(ConnectionError, match="failed reading item 3"):
        next(pages)
    with pytest.raises(StopIteration):
        next(pages)
    pages.close()
    assert source.closed.is_set()


@pytest.mark.parametrize("ahead", [1, 3])
def test_closing_early_stops_the_thread_and_closes_the_source(ahead: int) -> None:
    source = Source(list(range(100)))
    with Prefetched(source, name="early", ahead=ahead) as pages:
        assert next(pages) == 0
    assert source.closed.is_set()
    assert len(source.read) <= 1 + ahead  # the item handed over and at most those read ahead
    assert not any(t.name == "early" for t in threading.enumerate())
