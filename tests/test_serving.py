"""The bot's servers starting and stopping: its web server stops as soon as its connections have closed
(`bot.web.serving`), still answering what is in flight first; its Socket Mode connection closes without waiting out
slack_sdk's second, and opens with the process's one TLS context."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import queue
import socket
import ssl
import threading
import warnings
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from pytest_mock import MockerFixture
from slack_sdk.socket_mode.builtin import client as slack_sdk_client

from bot.web.serving import PromptServer
from providers.http import tls_context
from tests.conftest import RunningBot
from tests.fakes.server import BAD_PORTS, free_port


class SleepyServer(PromptServer):
    """A tick an hour long: a stop that waited for the next tick, as uvicorn's does, would not come."""

    TICK = 3600


def serve(
    app: Any, server_class: type[PromptServer] = PromptServer, **options: Any
) -> tuple[PromptServer, str, threading.Thread]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", ws="none", **options
    )
    server = server_class(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        thread.join(0.01)
    return server, f"http://127.0.0.1:{port}", thread


def answering(release: threading.Event | None = None, started: threading.Event | None = None) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if started is not None:
            started.set()
        while release is not None and not release.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"answered in full"})

    return app


def test_exit_wakes_the_server_rather_than_waiting_for_its_next_tick() -> None:
    server, url, thread = serve(answering(), SleepyServer)
    assert httpx2.get(url).text == "answered in full"
    server.exit()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the server waited for its next tick"


def test_a_server_asked_to_exit_before_its_loop_began_still_stops() -> None:
    port = free_port()
    server = PromptServer(
        uvicorn.Config(answering(), host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    server.exit()  # no loop yet: its first tick sees it
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    server.exit()  # and again once stopped: nothing happens


def test_a_request_in_flight_is_answered_in_full_before_the_server_stops_and_new_ones_are_refused() -> None:
    release, started = threading.Event(), threading.Event()
    server, url, thread = serve(answering(release, started))
    answers: queue.Queue[str] = queue.Queue()
    client = threading.Thread(target=lambda: answers.put(httpx2.get(url, timeout=30).text))
    client.start()
    assert started.wait(10)
    server.exit()
    thread.join(timeout=0.3)
    assert thread.is_alive(), "the server stopped with a request in flight"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.config.port), timeout=5) as late:
        late.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        if not late.recv(1):  # closed without an answer
            raise ConnectionResetError
    release.set()
    assert answers.get(timeout=10) == "answered in full"
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_request_that_outlasts_the_graceful_shutdown_is_cancelled() -> None:
    started = threading.Event()
    server, url, thread = serve(answering(threading.Event(), started), timeout_graceful_shutdown=1)
    outcome: queue.Queue[object] = queue.Queue()

    def ask() -> None:
        try:
            outcome.put(httpx2.get(url, timeout=30).status_code)
        except httpx2.HTTPError as exc:
            outcome.put(exc)

    threading.Thread(target=ask, daemon=True).start()
    assert started.wait(10)
    server.exit()
    thread.join(timeout=20)
    assert not thread.is_alive(), "a request that never ends kept the server"
    assert outcome.get(timeout=10) != 200  # cancelled: uvicorn answers 500, or the connection goes


class RecordingQueue(queue.Queue[Any]):
    """slack_sdk's queue of Socket Mode messages, remembering whether a wait for one ended with the empty message."""

    def __init__(self) -> None:
        super().__init__()
        self.woken = False

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        message = super().get(block, timeout)
        self.woken = self.woken or message is None
        return message


def test_closing_socket_mode_wakes_slack_sdks_message_processor(
    start_bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its processor waits up to a second for each message; on close it is handed an empty one, so the bot's stop
    does not wait that second out (0.7 s of every stop of a Socket Mode bot before)."""
    monkeypatch.setattr(slack_sdk_client, "Queue", RecordingQueue)  # a narrow seam: slack_sdk's own queue
    bot: RunningBot = start_bot("socket")
    handler = bot.server.socket_mode
    assert handler is not None
    client: Any = handler.client
    assert isinstance(client.message_queue, RecordingQueue)
    bot.slack.close_sockets()
    handler.close()
    assert not client.message_processor.is_alive()
    assert client.message_queue.woken, "the message processor was left to wait out its second"


def test_socket_mode_connects_without_reading_the_certificate_authorities_again(
    start_bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """slack_sdk makes a TLS context for each Socket Mode connection unless its client has one (26 ms of CPU)."""
    made: list[object] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args)
        return real(*args, **kwargs)

    tls_context()  # the process's one context, read once: here if no test before made it
    monkeypatch.setattr(ssl, "create_default_context", counted)  # a narrow seam: the standard library's
    bot: RunningBot = start_bot("socket")
    assert bot.server.socket_mode is not None
    assert bot.server.socket_mode.client.web_client.ssl is tls_context()  # and so are its reconnections
    assert made == []


def test_the_test_servers_ports_are_ones_no_outgoing_connection_takes() -> None:
    """The suite's servers (the bot's, the fakes') are given ports below the system's range of ephemeral ports, so
    an outgoing connection elsewhere in the run cannot take one between its choice and the server's bind (CI once
    failed with "address already in use"); each is one a server can bind, and no two are the same."""
    ephemeral_from = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports) and all(port < ephemeral_from for port in ports)
    with socket.socket() as listening:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", ports[0]))
        listening.listen()
        assert all(free_port() != ports[0] for _ in range(2_000))  # twice round the block: taken, so passed over


def test_a_connection_accepted_as_the_server_stops_is_closed_not_left_to_the_garbage_collector() -> None:
    """asyncio accepts a connection in one step of its loop and makes its transport in the next; on Python 3.11 a
    transport made once its server has closed fails and leaves the accepted socket open until the collector finds it
    (a ResourceWarning in whichever test ran then: CI failed once on it). Here the server stops in the very step
    after the accept, the step before the transport would be made."""
    port = free_port()
    config = uvicorn.Config(answering(), host="127.0.0.1", port=port, log_level="critical", lifespan="off", ws="none")
    server = PromptServer(config)

    async def stop_as_a_client_connects() -> socket.socket:
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup()
        late = socket.create_connection(("127.0.0.1", port))  # complete at once, in the listener's queue
        await asyncio.sleep(0)  # the loop sees the listener readable after this step...
        await asyncio.sleep(0)  # ...and accepts in this one, after it: the transport is due in the next step
        await server.shutdown()
        for _ in range(5):
            await asyncio.sleep(0)
        return late

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        late = asyncio.run(stop_as_a_client_connects())
        gc.collect()
    with late:
        late.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert late.recv(1) == b""  # closed by the server, not waiting on an open socket
    assert [str(warning.message) for warning in caught if warning.category is ResourceWarning] == []


def test_no_fake_is_served_on_a_port_a_browser_refuses(mocker: MockerFixture) -> None:
    """The next port of this worker's block is 10080, which Chromium refuses (ERR_UNSAFE_PORT: a browser test failed
    so in CI): it is passed over for the one after."""
    mocker.patch("tests.fakes.server._port_block", return_value=iter([10080, 10081, 10082]))
    assert 10080 in BAD_PORTS
    assert free_port() in (10081, 10082)  # 10081 unless something listens there now
