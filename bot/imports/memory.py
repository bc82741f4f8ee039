"""Memory in the bot's long-lived processes: giving it back to the system while a long import waits, keeping it
for reuse where a process does nothing but read pages, and how often the collector looks for cycles.

glibc keeps what Python frees in its heaps for reuse, so a process that parsed a hundred pages of contacts sits
on the high-water mark of all of them. `malloc_trim(0)` hands the free pages back; it costs well under a
millisecond, and the pages given back are asked for again, zeroed, by the next page's work (a page fault each). So
the bot's process gives them back when an import waits for its next page or ends (`bot.imports.job`), and the
import's reading process, which holds nothing else, keeps them (`keep_freed_memory`). Elsewhere (musl, macOS) there
are no such calls and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

# The collector's thresholds in a long-lived process of the bot (its server: `bot.server.settle_heap`; an import's
# reading process: `bot.imports.reading`): the youngest objects collected after 10,000 allocations rather than 700.
# What a request or a page makes is small, short-lived and without cycles, so the memory held meanwhile is too.
# Measured under the ack bench's load (5 s of /accounts help after freezing): 749 collections and 119 ms of pauses
# with Python's defaults, 1 and 1 ms with these. In the reading process: 2.2 % of a page's instructions (callgrind,
# 200.5 million a page of 1,000 contacts with the defaults, 196.1 million with these: `bench.instructions`).
COLLECTOR_THRESHOLDS = (10_000, 50, 100)


def settle_collector() -> tuple[int, int, int]:
    """Move everything made so far (modules, start-up's objects) out of the collector's sight, and let it run less
    often (`COLLECTOR_THRESHOLDS`); returns the thresholds it replaced. What is frozen is never freed, which is what
    start-up objects are anyway; a full collection then walks only what came after."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    return before


# glibc's `mallopt` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# What a process that reads page after page keeps of what it frees (`keep_freed_memory`): allocations under
# `FROM_THE_HEAP` bytes come from the heap (a page's body is some 1.2 MB; 32 MiB is the most glibc takes on 64-bit),
# and up to `KEPT_FREE` bytes freed at the heap's top are kept for the next page rather than handed back.
FROM_THE_HEAP = 32 << 20
KEPT_FREE = 64 << 20


def _c_library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


_LIBC = _c_library()
_TRIM: Callable[[int], int] | None = getattr(_LIBC, "malloc_trim", None)
_MALLOPT: Callable[[int, int], int] | None = getattr(_LIBC, "mallopt", None)


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; False where the C library cannot."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


def keep_freed_memory() -> bool:
    """Keep what is freed for reuse instead of handing it back to the system and asking for it again (the
    process's heap stays at its high-water mark); False where the C library cannot (musl, macOS).

    glibc serves a block of 128 KiB or more (to start with) from pages mapped for it alone, unmapped when freed, and
    hands back the free top of its heap beyond a threshold that moves with what it saw. A process reading a page of
    1.2 MB after another then has the system map and zero fresh pages for every page: the import's reading process
    took some 800 page faults a page of 1,000 contacts, about 1.2 µs of the kernel's time each (81,000 in a first
    import of 100,000: 0.1 s of its 1.8 s), and 20 a page with this (`bench.import_bench --cpu`)."""
    if _MALLOPT is None:
        return False
    return bool(_MALLOPT(_M_MMAP_THRESHOLD, FROM_THE_HEAP) and _MALLOPT(_M_TRIM_THRESHOLD, KEPT_FREE))
