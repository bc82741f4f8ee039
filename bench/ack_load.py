"""A closed-loop HTTP load generator (what `wrk -c 50` does) written on asyncio streams, so the ack bench needs
nothing installed: `connections` keep-alive connections each send a request, read the whole response and send the
next, for `seconds`; the first `warmup` seconds are not counted.

Requests are built and signed before each one's clock starts; a response is read by its Content-Length (every
contender answers with one). Its own cost is measured by running it against `floor_app`, a server that only
answers 200.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Build = Callable[[], bytes]
Check = Callable[[bytes], bool]


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, of the requests counted
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0  # the counted window
    checked: int = 0  # responses, the warm-up's included, whose body passed the run's `check`

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The `p`th percentile in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000


async def _one_connection(
    host: str,
    port: int,
    build: Build,
    started: float,
    counted_from: float,
    stop_at: float,
    result: LoadResult,
    check: Check | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            request = build()
            begin = time.perf_counter()
            if begin >= stop_at:
                return
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            end = time.perf_counter()
            if check is not None and check(body):
                result.checked += 1
            status = int(status_line.split(b" ", 2)[1]) if status_line else 0
            if begin >= counted_from:
                result.latencies.append(end - begin)
                result.statuses[status] = result.statuses.get(status, 0) + 1
            if not status_line:
                return
    finally:
        writer.close()


async def _load(
    host: str, port: int, build: Build, connections: int, seconds: float, warmup: float, check: Check | None
) -> LoadResult:
    result = LoadResult(seconds=seconds)
    started = time.perf_counter()
    counted_from, stop_at = started + warmup, started + warmup + seconds
    await asyncio.gather(
        *(_one_connection(host, port, build, started, counted_from, stop_at, result, check) for _ in range(connections))
    )
    return result


def run_load(
    host: str,
    port: int,
    build: Build,
    *,
    connections: int = 50,
    seconds: float = 5.0,
    warmup: float = 1.0,
    check: Check | None = None,
) -> LoadResult:
    """`check`, when given, is asked of each response's body; `LoadResult.checked` counts those it passed."""
    return asyncio.run(_load(host, port, build, connections, seconds, warmup, check))


async def floor_app(scope: dict[str, object], receive: Callable[..., object], send: Callable[..., object]) -> None:
    """ASGI: read the body, answer 200 with an empty body; what any server costs before any app runs."""
    assert scope["type"] == "http"
    more = True
    while more:
        message = await receive()  # type: ignore[misc]
        more = bool(message.get("more_body"))  # type: ignore[attr-defined]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})  # type: ignore[misc]
    await send({"type": "http.response.body", "body": b""})  # type: ignore[misc]
