"""Reading an import's pages in a process of our own, on the machine's other core.

An import of a large organisation is bound by this process's one core: the interpreter lock lets one thread at a
time run Python, and reading a page of a package's JSON into checked records and preparing their rows (columns,
matching keys, digest: `bot.customers.rows`) cost about as much as writing them. So where a package hands its
pages over still encoded (`providers.base.Encoded`), the next page is read and prepared in a second process
(`PageReader`) while this one writes the page before, and comes back as plain tuples (packed: `pack`).

The reading process is started by the first import large enough to pay for it (`ImportPolicy.read_apart_from`
records, by the package's total) and kept for the next; until it is ready, and for any page it cannot read (it
stopped, or the body is not what the package documents), the page is read here as before, so nothing depends on
it. It holds no connection, no token and no database: a page's bytes in, its prepared records out. Where it falls
behind, the import reads here, while it waits, the pages handed to it that it has not started
(`take_back_while_waiting`).

A connection's later imports mostly read what they read before. Where the package's pages can be glanced at
(`providers.base.Encoded.glance`: each record's id and a digest of its bytes, its `source`, a tenth of reading it),
the reading process glances at the page first, the import leaves unread the records it holds with the source they
came with and those it passed over and would again (`PageRecords.left`: `bot.customers.matching.may_leave_unread`),
and only the others are read and prepared. That is judged from what is committed, beside the thread that hands the
pages over (`JUDGES` pages at once, in any order); the import takes the judgement for a record whose id it has not
read since (nothing else writes a connection's references while its run goes on), checks the others against its own
transaction (`apply_prepared`'s `as_judged`), and reads the page here should one not hold.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import itertools
import logging
import multiprocessing
import os
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from bot.customers.rows import READING_KEY, Prepared, prepare_records
from bot.imports.memory import keep_freed_memory, settle_collector
from providers.base import Encoded, Glance, Glanced, Page, RecordsReader, Skipped

if TYPE_CHECKING:  # for annotations only: the reading process imports this module; matching brings the database
    from bot.customers.matching import Unread

log = logging.getLogger(__name__)

# Which of a page's glanced records the import may leave unread, by their ids, with what each held customer lacks
# (judged from what is committed: `bot.customers.matching.may_leave_unread`).
Leave = Callable[[list[Glance]], "Unread"]
PARENT_WATCH_EVERY = 1.0  # seconds between the reading process's looks at whether the importing process is there
HOLD = 4  # pages glanced at that the reading process holds until told what to read (`JUDGES` or one more, as a rule)
# Pages judged at once (`read_ahead`): each waits for its glances from the reading process (some 16 ms after the page
# is handed over, in a re-import of 100,000 on PostgreSQL) and then looks its records' ids up in what is committed
# (some 12 ms of wall for 1,000 ids), and a page is fetched only as one before it is handed on, so the judges in
# flight were a re-import's pace: one at a time bounded it, two made a page every 18-19 ms, three a re-import of
# 100,000 0.48-0.49 of the first import against 0.51-0.52 (PostgreSQL, two runs of three rounds, 2026-12-05).
JUDGES = 3
TAKE_BACK_LOOK = 0.005  # seconds between looks for pages to take back while the page waited for is still being read
# Bytes the pipes to and from the reading process hold (`roomy_pipes`): a package's page of 1,000 contacts is some
# 1.2 MB, its prepared records 0.6 MB. Linux lets a process without privileges go up to `/proc/sys/fs/pipe-max-size`
# (1 MiB unless raised); a pipe starts at 64 KiB.
PIPE_ROOM = 4 << 20


class Glancing(NamedTuple):
    """A page handed to the reading process to be glanced at (`PageReader.glance`)."""

    page: Page
    token: int
    future: Future[list[Glance] | None]


class PageRecords(NamedTuple):
    """A page's prepared records, the records it could not use, the records left unread (as `Glance`s), and how
    those were judged (`Leave`)."""

    prepared: list[Prepared]
    skipped: list[Skipped]
    left: list[Glance]
    judged: Unread = MappingProxyType({})


# A page's prepared records on their way back from the reading process: MessagePack of the plain tuples, or the list
# itself (pickled) where that cannot be (text that is not valid Unicode). Pickling a thousand named tuples cost
# 5.8 ms in the reading process and unpickling them 1.9 ms in the importing one; this 0.24 ms and 0.7 ms.
Packed = tuple[bytes | list[Prepared], list[Skipped]]
_PACK = msgspec.msgpack.Encoder()
_UNPACK = msgspec.msgpack.Decoder(list[Prepared])  # each array straight into a `Prepared`, as its fields say


def pack(records: tuple[list[Prepared], list[Skipped]]) -> Packed:
    prepared, skipped = records
    try:
        return _PACK.encode(prepared), skipped
    except (msgspec.EncodeError, UnicodeEncodeError):
        return prepared, skipped


def unpack(packed: Packed) -> tuple[list[Prepared], list[Skipped]]:
    prepared, skipped = packed
    if isinstance(prepared, bytes):
        return _UNPACK.decode(prepared), skipped
    return prepared, skipped


# In the reading process: pages glanced at (`glance_apart`), by token, until `read_rest_apart` reads them.
_held: dict[int, Glanced] = {}


def read_encoded(encoded: Encoded, *, lines: str | None = None) -> tuple[list[Prepared], list[Skipped]]:
    """The page read and prepared, each record with its source where the page can be glanced at: what the reading
    process does with a page of an import that stored nothing yet, and this process with a page it reads itself.
    `lines`: the run's customer filter, each record that becomes a customer under it with its CSV line too
    (`Prepared.line`, `prepare_page`); None: no lines."""
    glanced = encoded.glance(encoded.body, READING_KEY) if encoded.glance is not None else None
    if glanced is None:
        return prepare_records(*encoded.read(encoded.body), lines=lines)
    return _read_glanced(glanced, (), lines=lines)


def glance_apart(token: int, encoded: Encoded) -> list[Glance] | None:
    """In the reading process: the page's glances, the page held under `token` for `read_rest_apart`; None for a
    page that cannot be glanced at."""
    glanced = encoded.glance(encoded.body, READING_KEY) if encoded.glance is not None else None
    glances = glanced.glances() if glanced is not None else None
    if glanced is None or glances is None:
        return None
    while len(_held) >= HOLD:  # pages of an import that stopped between the two calls
        del _held[next(iter(_held))]
    _held[token] = glanced
    return glances


def read_apart(encoded: Encoded, lines: str | None = None) -> Packed:
    """In the reading process: `read_encoded`, packed for the way back. `lines`: each record that becomes a customer
    under that customer filter with its CSV line, made here beside the rest of it, so that the customers a run
    creates take theirs with them (`csv_lines.NewCustomers`) and its CSV is written at its end without reading them
    back."""
    return pack(read_encoded(encoded, lines=lines))


def read_rest_apart(token: int, leave: Collection[str], lines: str | None = None) -> Packed:
    """In the reading process: the page held under `token` read and prepared, but the records in `leave`, packed.
    Raises KeyError for a page it does not hold (started again meanwhile): the page is then read here."""
    return pack(_read_glanced(_held.pop(token), leave, lines=lines))


def forget_apart(token: int) -> None:
    """In the reading process: let the page held under `token` go (none of its records is to be read)."""
    _held.pop(token, None)


def _read_glanced(
    glanced: Glanced, leave: Collection[str], *, lines: str | None = None
) -> tuple[list[Prepared], list[Skipped]]:
    return prepare_records(*glanced.read(leave), lines=lines)


def _watch(parent: int, every: float) -> None:
    """In the reading process: end it once the process that started it is gone (killed, SIGKILL included), which
    would otherwise leave it waiting for pages forever: it holds its queue's other end itself, so no end of file
    comes."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class Warmed(NamedTuple):
    """What the reading process holds once up (`_warm`)."""

    thresholds: tuple[int, int, int]  # its collector's
    modules: frozenset[str]  # the packages' modules it has imported (`providers....`)


def _warm(*reads: RecordsReader) -> Warmed:
    """Run first in the reading process: unpickling `reads` imports their modules, before the first page waits
    (without them, the first page's unpickling imports its reader's: 7-13 ms at 10,000 contacts). Then the collector
    is settled as the bot's server settles its own (`settle_collector`: a page's records are made and dropped in one
    go, none in a cycle), and what a page frees is kept for the next (`keep_freed_memory`: the process reads nothing
    but pages)."""
    del reads
    settle_collector()
    keep_freed_memory()
    return Warmed(gc.get_threshold(), frozenset(name for name in sys.modules if name.startswith("providers.")))


class PageReader:
    """A process that reads and prepares pages (`submit`: `read_apart`; or `glance`, then `judged`: the rest),
    started on first use and shared by the process's imports. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._warmed: Future[Warmed] | None = None
        self._closed = False
        self._tokens = itertools.count()
        # for the curious (tests, logs): pages handed to the process, the records it left unread, and the pages
        # handed to it that the importing process took back and read itself (`take_back_while_waiting`)
        self.handed = self.left = self.taken_back = 0

    def start(self, *reads: RecordsReader) -> bool:
        """Start the process (in the background) unless it runs; one that stopped (killed, out of memory) is
        started again. `reads`: the functions the pages will be read with, imported there at once. Returns whether it
        runs or is starting: not once closed, nor where the system would not start a process now (out of processes
        or memory), which is left for the next call to try again (the pages are read here meanwhile)."""
        with self._lock:
            if self._closed:
                return False
            if self._pool is not None and not self._broken():
                return True
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch,
                initargs=(os.getpid(), PARENT_WATCH_EVERY),
            )
            roomy_pipes(self._pool)
            try:
                with _plain_main():  # the first call starts the process
                    self._warmed = self._pool.submit(_warm, *reads)
            except OSError as exc:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._warmed = None
                log.warning("The import's reading process could not be started (%s); pages are read here", exc)
                return False
            return True

    @property
    def warmed(self) -> Warmed | None:
        """What the reading process holds once it is up (for the curious: tests, logs); None before."""
        with self._lock:
            warmed = self._warmed
        return warmed.result() if warmed is not None and _succeeded(warmed) else None

    def ready(self) -> bool:
        """Whether the process is up and has not stopped: a page handed to it now does not wait for it to start."""
        with self._lock:
            warmed = self._warmed
        return warmed is not None and _succeeded(warmed) and not self._broken()

    def submit(self, encoded: Encoded, *, lines: str | None = None) -> Future[Packed] | None:
        """The page read and prepared in the process (`read_apart`; `lines` as `read_encoded`), or None if it is not
        running."""
        future = self._submit(read_apart, encoded, lines)
        if future is not None:
            with self._lock:  # pages are handed over from several threads (`JUDGES`)
                self.handed += 1
        return future

    def glance(self, page: Page) -> Glancing | None:
        """The page handed over to be glanced at (`glance_apart`), or None if the process is not running."""
        assert page.encoded is not None
        token = next(self._tokens)
        future = self._submit(glance_apart, token, page.encoded)
        return None if future is None else Glancing(page, token, future)

    def judged(self, glancing: Glancing, leave: Leave, *, lines: str | None = None) -> ReadPage | None:
        """A page glanced at, once the records to `leave` unread are known, on its way from the process with the
        others (none: as it is; `lines` as `submit`); None if the process stopped (the page is read here)."""
        page, encoded = glancing.page, glancing.page.encoded
        assert encoded is not None
        try:
            glances = glancing.future.result()
        except Exception as exc:  # the process stopped
            log.info("A page was read here: the reading process gave %s", type(exc).__name__)
            return None
        if glances is None:  # not a page to glance at: read whole
            future = self.submit(encoded, lines=lines)
            return None if future is None else ReadPage(page, future=future)
        unread = leave(glances)
        left = [g for g in glances if g.id in unread]
        if len(left) == len(glances):  # nothing to read: the process lets the page go (not waited for)
            self._submit(forget_apart, glancing.token)
            read = ReadPage(page, ([], []), left=left, judged=unread)
        elif (future := self._submit(read_rest_apart, glancing.token, set(unread), lines)) is not None:
            read = ReadPage(page, future=future, left=left, judged=unread)
        else:
            return None
        with self._lock:
            self.handed += 1
            self.left += len(left)
        return read

    def took_back(self, pages: int) -> None:
        """Count `pages` handed to the process that the importing process read itself (`take_back_while_waiting`)."""
        with self._lock:  # several imports share the process
            self.taken_back += pages

    def _submit(self, function: Callable[..., Any], *args: Any) -> Future[Any] | None:
        with self._lock:
            pool = self._pool
            if pool is None:
                return None
            try:
                return pool.submit(function, *args)
            except RuntimeError:  # shut down, or stopped (`BrokenProcessPool` is one): the page is read here
                return None

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


def roomy_pipes(pool: ProcessPoolExecutor) -> list[int]:
    """Let the pipes that carry the pages to the process and their records back hold a page each (`PIPE_ROOM`, or
    as much as the system allows); returns their sizes in bytes. A pipe holds 64 KiB to start with, so a page went
    through in some twenty writes, and a writer waits for the reader between them: the reading process's answer
    waited for this process's thread that takes answers, which waits for the interpreter's lock behind the
    importing thread and the pages' fetches, each wait up to its 5 ms turn (2-18 ms a page, in which the reading
    process, the import's pace at 10,000, read nothing). With room for the records, the reading process hands them
    over in one write and goes on with the next page. Where the pipes cannot be sized (not Linux, or the executor
    made otherwise), they are left as they are."""
    if not hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux's
        return []
    ends = (
        getattr(getattr(pool, "_call_queue", None), "_writer", None),  # CPython's executor: its queue of calls
        getattr(getattr(pool, "_result_queue", None), "_reader", None),  # and of answers
    )
    sizes = []
    for end in ends:
        if end is None:
            continue
        for room in (PIPE_ROOM, _pipe_max_size()):
            try:
                sizes.append(fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, room))
                break
            except (OSError, ValueError):  # more than may be (EPERM), the user's pipes at their limit, or closed
                continue
    return sizes


def _pipe_max_size() -> int:
    try:
        return int(Path("/proc/sys/fs/pipe-max-size").read_text())
    except (OSError, ValueError):
        return 1 << 20  # Linux's default


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
    """A page with its records prepared, or on their way from the reading process. `whole`: handed to the process
    whole (`PageReader.submit`, with the CSV lines of `lines`' customers or none); such a page may be taken back
    (`take_back`)."""

    def __init__(
        self,
        page: Page,
        records: tuple[list[Prepared], list[Skipped]] | None = None,
        future: Future[Packed] | None = None,
        left: list[Glance] | None = None,
        judged: Unread | None = None,
        whole: bool = False,
        lines: str | None = None,
    ) -> None:
        self.page, self._records, self._future, self._left = page, records, future, left or []
        self._judged, self._whole, self._lines = judged or {}, whole, lines

    def settled(self) -> bool:
        """Whether the reading process is done with the page (read, failed or cancelled) or never had it."""
        return self._future is None or self._future.done()

    def wait(self, timeout: float) -> None:
        """Until the reading process is done with the page, for `timeout` seconds at most."""
        if self._future is not None:
            futures_wait([self._future], timeout)

    def take_back(self) -> bool:
        """Read the page here, as the process would have, if the process has not started it (its future cancelled
        while it waits in the pool's queue); returns whether it was. A page that cannot be read here is left to
        `records()`, which reads it again and raises in its turn."""
        if not self._whole or self._future is None or not self._future.cancel():
            return False
        self._future = None
        try:
            self._records = _read_here(self.page, lines=self._lines)
        except Exception:  # noqa: BLE001 - raised again by `records()`, where the import expects it
            return False
        return True

    def done(self) -> bool:
        """Whether `records()` will not wait, nor raise (a page the process could not read is not done: reading it
        here may raise, which must not happen with other pages' writes open)."""
        return self._future is None or _succeeded(self._future)

    def records(self) -> PageRecords:
        """The page's prepared records, the records it could not use and those left unread; raises the package's
        `ProviderError` for a page that cannot be read at all."""
        if self._records is None:
            if self._future is not None:
                try:
                    self._records = unpack(self._future.result())
                except Exception as exc:  # the process stopped, or the body is not what the package documents
                    log.info("A page was read here: the reading process gave %s", type(exc).__name__)
            self._future = None
            if self._records is None:
                return self.read_here()
        return PageRecords(*self._records, self._left, self._judged)

    def read_here(self) -> PageRecords:
        """Every record of the page read and prepared here, none left unread (the import found a record left
        unread not as the reading process was told)."""
        self._records, self._left, self._judged = _read_here(self.page), [], {}
        return PageRecords(*self._records, [])


def read_ahead(
    pages: Iterator[Page],
    reader: PageReader | None,
    *,
    from_records: int | None,
    leave: Leave | None = None,
    lines: str | None = None,
) -> Iterator[ReadPage]:
    """`pages` as `ReadPage`s, in order: an encoded page handed to `reader` once it is ready (started by the first page
    of a walk of at least `from_records` records), any other page read and prepared here, as it comes. `leave`:
    which records the reader may leave unread; a page is then glanced at as it comes and judged (its records to leave
    looked up) in a thread beside this one, up to `JUDGES` pages at once, and handed on in its turn. The judgements
    may be made in any order: each is of what is committed, and the import looks up again any record it read since
    (`ImportJob._write_page`). `lines`: the run's customer filter, the reader making the CSV line of each record
    that becomes a customer under it (`csv_lines.NewCustomers` gathers those of the customers created); None: no
    lines."""
    judging: deque[Future[ReadPage]] = deque()  # pages glanced at, being judged, in the walk's order
    judges: ThreadPoolExecutor | None = None
    pages = iter(pages)
    try:
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except Exception:  # what the walk raises comes after the pages before it
                while judging:
                    yield judging.popleft().result()
                raise
            glancing: Glancing | None = None
            read: ReadPage | None = None
            encoded = page.encoded
            if encoded is not None and reader is not None and from_records is not None:
                if reader.ready():
                    if leave is not None and encoded.glance is not None:
                        glancing = reader.glance(page)
                    elif (future := reader.submit(encoded, lines=lines)) is not None:
                        read = ReadPage(page, future=future, whole=True, lines=lines)
                if glancing is None and read is None and page.total is not None and page.total >= from_records:
                    reader.start(encoded.read)  # not running yet, or stopped: started (again) for the pages after
            if glancing is not None:
                judges = judges or ThreadPoolExecutor(JUDGES, thread_name_prefix="import-judge")
                judging.append(judges.submit(_judged, reader, glancing, leave, lines))
                while len(judging) >= JUDGES:  # the next page is judged meanwhile
                    yield judging.popleft().result()
                continue
            while judging:
                yield judging.popleft().result()
            yield read or ReadPage(page, _read_here(page))
        while judging:
            yield judging.popleft().result()
    finally:
        if judges is not None:  # an import that stopped does not wait for the pages it will not write
            judges.shutdown(wait=False, cancel_futures=True)


def _judged(reader: PageReader | None, glancing: Glancing, leave: Leave | None, lines: str | None) -> ReadPage:
    assert reader is not None and leave is not None
    return reader.judged(glancing, leave, lines=lines) or ReadPage(glancing.page, _read_here(glancing.page))


def take_back_while_waiting(waiting_for: ReadPage, later: Callable[[], Sequence[ReadPage]]) -> int:
    """Until `waiting_for` comes back from the reading process, read here, one at a time, the pages of `later()` (the
    pages read ahead, looked at again after each) that the process has not started, the last first (it goes on with
    the nearer ones): the importing process would otherwise sit idle. Where the reading process is the import's
    pace (a first import of 10,000 on two cores) that shares the reading between both processes; where writing is,
    the importing process seldom waits and takes little. Returns how many pages it read."""
    taken = 0
    while not waiting_for.settled():
        for page in reversed(later()):
            if page.take_back():
                taken += 1
                break
        else:
            waiting_for.wait(TAKE_BACK_LOOK)  # it comes, or more pages do
    return taken


def _read_here(page: Page, *, lines: str | None = None) -> tuple[list[Prepared], list[Skipped]]:
    """The page read and prepared in this process, as the reading process would (`read_encoded`, `lines` as there)."""
    if page.encoded is not None:
        return read_encoded(page.encoded, lines=lines)
    return prepare_records(page.customers, page.skipped, lines=lines)
