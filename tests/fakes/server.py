"""Serve an ASGI app on 127.0.0.1 in a background thread, and the `--port N` entry point each fake shares."""

from __future__ import annotations

import argparse
import functools
import importlib
import itertools
import os
import secrets
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

# How a server stops is not what a fake imitates: the bot's prompt stop, which the suite's every test waits on.
from bot.web.serving import PromptServer


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # The fakes' own, as `providers.http.tls_context` is the bot's: the fakes stand apart from the bot's code.
    return httpx2.create_ssl_context()


def http_client(**options: Any) -> httpx2.Client:
    """An httpx2 client with the process's one TLS context: httpx2 otherwise reads the system's certificate
    authorities again for each client (26 ms of CPU), which every delivery of the Slack fake and every browser of a
    test made anew."""
    return httpx2.Client(verify=_tls_context(), **options)


# The servers' ports are taken below the system's range of ephemeral ports, each test worker (pytest-xdist) in a
# block of its own, from a place in it drawn at random (two test runs at once walk different ports). A port the
# system gave for port 0, once let go, is in that range, and any outgoing connection (another test's, another
# worker's) could take it before the server bound it: CI once failed so ("address already in use").
_PORTS_FROM, _PORTS_BLOCK = 10_000, 1_000
_ports_lock = threading.Lock()


def _ephemeral_from() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # not known: ports as the system gives them


@functools.cache
def _port_block() -> Iterator[int] | None:
    """The ports this process tries, in turn, or None where there is no room below the ephemeral ones."""
    blocks = (_ephemeral_from() - _PORTS_FROM) // _PORTS_BLOCK
    if blocks < 1:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = _PORTS_FROM + (int(worker) if worker.isdigit() else 0) % blocks * _PORTS_BLOCK
    first = secrets.randbelow(_PORTS_BLOCK)  # not `random`: hypothesis seeds it in its tests
    return itertools.cycle([start + (first + i) % _PORTS_BLOCK for i in range(_PORTS_BLOCK)])


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (as a server binds it: the address reused)."""
    with _ports_lock:
        ports = _port_block()
        for port in itertools.islice(ports or (), _PORTS_BLOCK):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A uvicorn server in a daemon thread; `url` is where it answers once `start()` returns."""

    def __init__(self, app: Any, port: int = 0, ws: str = "websockets-sansio") -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws=ws,
            lifespan="off",
            access_log=False,
        )
        self.server = PromptServer(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"fake-{self.port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            self.thread.join(0.01)
        return self

    def stop(self) -> None:
        self.server.exit()
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# What serving a fake needs beyond the bot's own dependencies: the `test` extra.
TEST_EXTRA_MODULES = ("websockets", "multipart")
TEST_EXTRA_HINT = "install the test extra: .venv/bin/pip install -e '.[test]' (./dev demo and ./dev test install it)"


def missing_test_extra() -> list[str]:
    """The modules of the test extra that are not installed."""
    missing = []
    for module in TEST_EXTRA_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return missing


def serve_main(
    name: str,
    make_app: Callable[[str], Any],
    describe: Callable[[str], str] | None = None,
    *,
    parser: argparse.ArgumentParser | None = None,
) -> None:
    """`python -m tests.fakes.<name> --port N`: serve the fake in the foreground and print its URL.
    `parser` brings options of the fake's own (read them with `parse_known_args` before calling this)."""
    missing = missing_test_extra()
    if missing:
        print(f"The {name} fake needs {', '.join(missing)}: {TEST_EXTRA_HINT}", file=sys.stderr)
        raise SystemExit(2)
    parser = parser or argparse.ArgumentParser(prog=f"python -m tests.fakes.{name}")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    args = parser.parse_args()
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    app = make_app(url)
    print(f"{name} fake listening on {url}", flush=True)
    if describe:
        print(describe(url), flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")


def serve_package_main(
    name: str, demo_fake: Callable[[], tuple[Any, Any]], settings_lines: Callable[[str, Any], list[str]]
) -> None:
    """`python -m tests.fakes.<package> --port N` for an accounting package's fake: its demo (`demo_fake()` gives
    the fake and the demo client app) served, and the settings that point the bot at it printed as
    `PREFIX_KEY=value` lines (`./dev demo` reads them), with the redirect URIs the demo app accepts."""
    made: dict[str, Any] = {}

    def make_app(url: str) -> Any:
        fake, client = demo_fake()
        made.update(fake=fake, client=client)
        return fake.app

    def describe(url: str) -> str:
        client = made["client"]
        return "\n".join(
            [
                "Point the bot at it with these settings (in .env or the environment):",
                *settings_lines(url, client),
                "",
                f"Redirect URIs: {', '.join(client.redirect_uris)}",
            ]
        )

    serve_main(name, make_app, describe)


class Mount:
    """An ASGI app forwarding to whichever app a test mounts in `.app`, so one server serves a whole test
    module (stopping a uvicorn server takes a fifth of a second; a fresh fake per test stays cheap)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "nothing is mounted on this server"
        await self.app(scope, receive, send)
