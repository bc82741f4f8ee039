"""Memory freed by an import page goes back to the system (`bot.memory`; Linux with glibc, where the bot runs)."""

from __future__ import annotations

from bot.imports.memory import release_free_memory


def resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def test_freed_blocks_go_back_to_the_system() -> None:
    blocks = [bytes(4096) for _ in range(20_000)]  # 80 MiB through malloc, as a page's parsing allocates
    kept = blocks[::100]  # a few survivors pin the heap, so glibc would keep the rest for reuse
    del blocks
    held = resident_mib()

    assert release_free_memory() is True

    assert resident_mib() < held - 40
    assert len(kept) == 200
