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
# Ports a browser refuses to load a page from (the Fetch standard's "bad ports"; Chromium answers ERR_UNSAFE_PORT): a
# fake served on 10080 failed a browser test in CI, 2026-12-06. Of these only 10080 lies in the blocks above.
BAD_PORTS = frozenset(
    {1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110}
    | {111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531}
    | {532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190}
    | {5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080}
)


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
    """A port on 127.0.0.1 that nothing listens on now (as a server binds it: the address reused), and that a
    browser will load a page from (`BAD_PORTS`)."""
    with _ports_lock:
        ports = _port_block()
        for port in itertools.islice(ports or (), _PORTS_BLOCK):
            if port in BAD_PORTS:
                continue
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
