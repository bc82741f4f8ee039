"""The bot's web server: uvicorn's, stopped as soon as its connections have closed.

uvicorn looks whether it was asked to stop every 0.1 s, then waits a fixed 0.1 s before looking at its connections
and again in steps of 0.1 s until they have closed: 0.18 s a stop with nothing in flight. `PromptServer.exit` wakes
its loop at once and its shutdown looks at the connections every 5 ms, so a bot its service manager restarts lets go
of the port sooner (and the suite, which starts and stops a bot in most of its tests, waits less).
What it waits for is uvicorn's: requests in flight end first (up to `timeout_graceful_shutdown`, then their tasks are
cancelled), new connections are refused at once.

A connection accepted just as the server stops is closed too. asyncio accepts a connection in one step of its loop and
makes its transport in the next; on Python 3.11 a transport made after its server has closed fails (its server
asserts it is open) and leaves the accepted socket open for the garbage collector (a ResourceWarning in whichever test
ran then, in about one stop in a hundred with a client connecting at that moment). So the shutdown stops accepting,
lets one step make the transports of what was accepted, closes the listeners, and asks every connection to close as
it appears (uvicorn's protocol joins the server's connections a step after its transport is made).
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
        loop = asyncio.get_running_loop()
        for server in self.servers:  # accept no more, then let what was accepted become a connection
            for listening in server.sockets:
                loop.remove_reader(listening)
        await asyncio.sleep(0)
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        timeout = self.config.timeout_graceful_shutdown
        deadline = None if timeout is None else loop.time() + timeout
        state = self.server_state
        told: set[object] = set()  # each connection is asked to close once, as uvicorn's shutdown asks
        await asyncio.sleep(0)
        while (state.connections or state.tasks) and not self.force_exit:
            for connection in state.connections - told:
                told.add(connection)
                connection.shutdown()
            if deadline is not None and loop.time() >= deadline:
                for task in state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
                break
            await asyncio.sleep(LOOK)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
