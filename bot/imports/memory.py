"""Memory in the bot's long-lived processes: giving it back to the system between pages of a long import, and how
often the collector looks for cycles.

glibc keeps what Python frees in its heaps for reuse, so a process that parsed a hundred pages of contacts sits
on the high-water mark of all of them. `malloc_trim(0)` hands the free pages back; it costs well under a
millisecond after a page. Elsewhere (musl, macOS) there is no such call and this does nothing.
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


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; False where the C library cannot."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
