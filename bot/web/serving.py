"""The bot's web server: uvicorn's, stopped as soon as its connections have closed.

uvicorn looks whether it was asked to stop every 0.1 s, then waits a fixed 0.1 s before looking at its connections
and again in steps of 0.1 s until they have closed: 0.18 s a stop with nothing in flight. `PromptServer.exit` wakes
its loop at once and its shutdown looks at the connections every 5 ms, so a bot its service manager restarts lets go
of the port sooner (and the suite, which starts and stops a bot in most of its tests, waits less).
What it waits for is uvicorn's: requests in flight end first (up to `timeout_graceful_shutdown`, then their tasks are
cancelled), new connections are refused at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn

LOOK = 0.005  # how often a stopping server looks whether its connections have closed


class PromptServer(uvicorn.Server):
    """`uvicorn.Server` that stops within milliseconds of `exit()` when nothing is in flight."""

    TICK = 0.1  # seconds between uvicorn's ticks, as uvicorn's own loop

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    def exit(self) -> None:
        """Ask the server to stop, from any thread; `run()` returns once its connections have closed."""
        self.should_exit = True
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the server has stopped already
                loop.call_soon_threadsafe(woken.set)

    async def main_loop(self) -> None:
        """uvicorn's loop of ticks (the Date header, the request limit, `should_exit`), woken early by `exit()`."""
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.TICK)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, looking at the connections every few milliseconds instead of after a fixed 0.1 s."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        timeout = self.config.timeout_graceful_shutdown
        deadline = None if timeout is None else loop.time() + timeout
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit:
            if deadline is not None and loop.time() >= deadline:
                for task in state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
                break
            await asyncio.sleep(LOOK)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
