"""The demo's processes: the Slack fake and its playground in this process, each accounting package's fake and the
bot in child processes of their own, on free ports, with a SQLite database in a temporary folder. Children run in
sessions of their own, so Ctrl-C reaches only the demo, which stops them in order."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from cryptography.fernet import Fernet

from providers import registry
from tests.demo.packages import PACKAGES, DemoPackage
from tests.demo.playground import playground_app
from tests.fakes.server import ServerThread, free_port, http_client
from tests.fakes.slack.demo import DEMO_APP_TOKEN, DEMO_BOT_TOKEN, demo
from tests.fakes.slack.fake import SlackFake

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# What the bot would otherwise take from the person's own environment (their real Slack app, database, ...).
_BOT_SETTINGS = ("DATABASE_URL", "ENCRYPTION_KEY", "PUBLIC_URL", "HOST", "PORT", "AUTO_MIGRATE", "LOG_LEVEL")


class DemoFailed(Exception):
    """A part of the demo did not start; the message says which and what it printed."""


@dataclass
class Child:
    """A child process the demo started, and what it printed while starting."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    printed: list[str] = field(default_factory=list)
    forwarding: bool = False  # a thread reads what it prints now, and closes the pipe at its end

    def alive(self) -> bool:
        return self.process.poll() is None


class Demo:
    """Everything `./dev demo` runs. `start()` returns once the bot holds its Socket Mode connection to the fake."""

    def __init__(self, *, port: int = 0, packages: Sequence[DemoPackage] = PACKAGES) -> None:
        self.packages = tuple(packages)
        self.folder = tempfile.TemporaryDirectory(prefix="accounts-bot-demo-")
        port = port or free_port()
        self.slack: SlackFake = demo(f"http://127.0.0.1:{port}")
        self.server = ServerThread(playground_app(self.slack), port=port)
        self.children: list[Child] = []
        self.bot_port = free_port()

    @property
    def url(self) -> str:
        """The playground, and the Slack fake's API under it."""
        return self.server.url

    @property
    def bot_url(self) -> str:
        return f"http://127.0.0.1:{self.bot_port}"

    @property
    def bot_log(self) -> Path:
        return Path(self.folder.name) / "bot.log"

    def start(self) -> Demo:
        try:
            self.server.start()
            settings: dict[str, str] = {}
            for package in self.packages:
                settings |= self._start_package(package)
            self._start_bot(settings)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the children (the bot first) with Ctrl-C as a person would, then the fake; delete the database."""
        for child in reversed(self.children):
            if child.alive():
                child.process.send_signal(signal.SIGINT)
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            if child.process.stdout and not child.forwarding:
                child.process.stdout.close()
        self.children.clear()
        self.slack.close_sockets()
        if self.server.thread.is_alive():
            self.server.stop()
        self.folder.cleanup()

    def stopped_child(self) -> Child | None:
        """A child that ended on its own, if any."""
        return next((child for child in self.children if not child.alive()), None)

    def _start_package(self, package: DemoPackage) -> dict[str, str]:
        port = free_port()
        env = _child_env() | {"PUBLIC_URL": self.bot_url}
        process = subprocess.Popen(
            [sys.executable, "-m", package.module, "--port", str(port)],
            cwd=self.folder.name,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_interruptible,
        )
        child = Child(package.name, process, f"http://127.0.0.1:{port}")
        self.children.append(child)
        self._wait_until(child, lambda: _answers(child.url))
        child.printed += _printed_so_far(process)
        child.forwarding = True
        threading.Thread(target=_forward, args=(child,), daemon=True, name=f"{child.name}-output").start()
        settings = package.settings(child.printed)
        if not settings:
            raise DemoFailed(
                f"the {package.name} fake printed no {package.prefix}… settings:\n" + "\n".join(child.printed)
            )
        return settings

    def _start_bot(self, package_settings: dict[str, str]) -> None:
        env = _child_env() | package_settings
        env |= {
            "SLACK_API_URL": f"{self.slack.api_url}",
            "SLACK_AUTHORIZE_URL": f"{self.url}/oauth/v2/authorize",
            "SLACK_APP_REDIRECT_URL": f"{self.url}/app_redirect",
            "SLACK_BOT_TOKEN": DEMO_BOT_TOKEN,
            "SLACK_APP_TOKEN": DEMO_APP_TOKEN,
            "SLACK_SIGNING_SECRET": self.slack.signing_secret,
            "DATABASE_URL": f"sqlite:///{Path(self.folder.name) / 'demo.db'}",
            "ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "PUBLIC_URL": self.bot_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.bot_port),
        }
        log = self.bot_log.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=self.folder.name,  # no .env of the person's own is read
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_interruptible,
        )
        log.close()
        child = Child("bot", process, self.bot_url)
        self.children.append(child)
        self._wait_until(child, lambda: _answers(f"{child.url}/healthz") and self._bot_connected())

    def _bot_connected(self) -> bool:
        """Whether the bot holds its Socket Mode connection to the Slack fake."""
        with http_client(timeout=5) as http:
            return bool(http.get(f"{self.url}/fake").json()["bot"]["socket_mode"])

    def _wait_until(self, child: Child, ready: Callable[[], bool]) -> None:
        try:
            self.slack.wait_for(lambda: not child.alive() or ready(), timeout=START_TIMEOUT)
        except TimeoutError:
            raise DemoFailed(
                f"the {child.name} did not start within {START_TIMEOUT:.0f} s:\n{self._output(child)}"
            ) from None
        if not child.alive():
            raise DemoFailed(f"the {child.name} stopped while starting:\n{self._output(child)}")

    def _output(self, child: Child) -> str:
        if child.name == "bot":
            return self.bot_log.read_text(errors="replace")[-4000:]
        return "\n".join(child.printed + _printed_so_far(child.process))


def _interruptible() -> None:
    """In the child before it starts: Ctrl-C stops it, even when the demo itself was started with Ctrl-C ignored
    (in the background, as a shell does), so `stop()` can stop it cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _child_env() -> dict[str, str]:
    """The environment for a child: ours, without any setting of the bot's or a package's, and finding this
    checkout's code first."""
    prefixes = ("SLACK_", *(f"{name.upper()}_" for name in registry.titles()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in _BOT_SETTINGS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _forward(child: Child) -> None:
    """What a package's fake prints after it started (its warnings), to our stderr, so its pipe never fills."""
    assert child.process.stdout is not None
    with child.process.stdout as printed:
        for line in printed:
            sys.stderr.write(f"[{child.name}] {line.decode(errors='replace')}")


def _answers(url: str) -> bool:
    try:
        with http_client(timeout=1.0) as http:
            http.get(url)
    except httpx2.TransportError:
        return False
    return True


def _printed_so_far(process: subprocess.Popen[bytes]) -> list[str]:
    """The lines a child has printed that are waiting in its pipe, without waiting for more."""
    if process.stdout is None:
        return []
    fd = process.stdout.fileno()
    chunks = []
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace").splitlines()
