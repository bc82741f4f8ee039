"""Start and stop the bot: migrations, the Bolt app, Socket Mode or the HTTP server, and the scheduler."""

from __future__ import annotations

import gc
import logging
import signal
import threading

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App

from bot.imports.memory import settle_collector
from bot.imports.runner import ImportRunner
from bot.runtime import Runtime
from bot.schedule import start_scheduler
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.import_reports import slack_reporters
from bot.slack.socket_mode import CheckedSocketModeHandler
from bot.web.routes import build_web
from bot.web.serving import PromptServer
from storage import migrate

log = logging.getLogger(__name__)


_thresholds_before: list[tuple[int, int, int]] = []


def settle_heap() -> None:
    """Move everything start-up made (modules, the app, settings, the mapper) out of the collector's sight, and let
    it run less often.

    A full collection walks every object it tracks; with the start-up heap in view that took ~64 ms (up to 330 ms on
    a busy machine), a pause every request in flight waited for. What is frozen is never freed, which is what
    start-up objects are anyway.
    """
    _thresholds_before.append(settle_collector())


def release_heap() -> None:
    """Give what `settle_heap` froze back to the collector, with its thresholds (a process that goes on after the
    bot stopped, such as a test run, would otherwise keep the bot's cycles forever)."""
    gc.unfreeze()
    if _thresholds_before:
        gc.set_threshold(*_thresholds_before.pop())


def prepare_database(runtime: Runtime) -> None:
    """Migrate on start when allowed; otherwise refuse an old schema (raises `SchemaOutOfDate`)."""
    if runtime.settings.auto_migrate:
        migrate.upgrade(runtime.db.engine)
    migrate.check_schema(runtime.db.engine)


class BotServer:
    """The whole bot in this process; `start()` returns once it serves, `stop()` ends it cleanly.

    `owns_process`: the bot is what this process is for (`accounts-bot run`), so SIGTERM (what systemd, Docker and
    Kubernetes send to stop a service) stops it as Ctrl-C does (`wait` returns, and `stop()` lets its imports go of
    their runs at their next page, for another process to take up at once), and once started it starts the
    imports' reading process (`ImportRunner.start_reader`: the first large import after a start does not wait for
    it) and settles the process's heap (`settle_heap`). A process that only hosts the bot for a while (a test run)
    says False: its heap is its own, and a full collection of a test run's heap at every start cost 0.4 s (16 % of
    the suite's CPU); its imports start the reading process when one needs it, as before."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None, *, owns_process: bool = True) -> None:
        self.settings = settings
        self.owns_process = owns_process
        self.runtime = runtime or Runtime.from_settings(settings)
        prepare_database(self.runtime)
        self.app: App = build_app(self.runtime)
        self.web = build_web(self.runtime, self.app)
        config = uvicorn.Config(
            self.web,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ws="none",
        )
        self.http = PromptServer(config)
        self.socket_mode: CheckedSocketModeHandler | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.imports = ImportRunner(self.runtime, reporters=slack_reporters(self.runtime))
        self._thread: threading.Thread | None = None
        self._stop_asked = False  # a plain flag: set from a signal handler, which must not take a lock

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def start(self) -> BotServer:
        if self.owns_process and threading.current_thread() is threading.main_thread():  # where Python takes signals
            signal.signal(signal.SIGTERM, lambda _signal, _frame: self.ask_to_stop())
        self._thread = threading.Thread(target=self.http.run, name="web", daemon=True)
        self._thread.start()
        while not self.http.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the web server could not start on {self.url}")
            threading.Event().wait(0.01)
        self.scheduler = start_scheduler(self.runtime, imports=self.imports)
        if self.settings.socket_mode:
            self.socket_mode = CheckedSocketModeHandler(self.app, self.settings.slack_app_token)
            self.socket_mode.connect()
        if self.owns_process:
            self.imports.start_reader()
            settle_heap()
        log.info("accounts-bot is running (%s mode, web on %s)", "Socket" if self.socket_mode else "HTTP", self.url)
        return self

    def wait(self) -> None:
        """Until the web server stops, Ctrl-C is pressed or `ask_to_stop` is called (SIGTERM, where the bot owns the
        process); then `stop()` ends the rest."""
        assert self._thread is not None
        try:
            while self._thread.is_alive() and not self._stop_asked:
                self._thread.join(timeout=0.2)
        except KeyboardInterrupt:
            pass
        log.info("Stopping")

    def ask_to_stop(self) -> None:
        """Have `wait` return (within 0.2 s), as Ctrl-C does. Safe in a signal handler (SIGTERM's, `start`), which
        runs between two steps of this thread and may not wait for a lock it holds (an `Event`'s): it only sets a
        flag."""
        self._stop_asked = True

    def stop(self) -> None:
        """Stop everything; stopping again does nothing."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self.imports.shutdown()
        if self.socket_mode is not None:
            self.socket_mode.close()
        self.http.exit()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.runtime.close()
        if self.owns_process:
            release_heap()
