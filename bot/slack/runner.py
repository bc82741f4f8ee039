"""Bolt's listener runner, answering Slack the moment a listener calls `ack()`, from the thread that dispatched.

Bolt's own (`ThreadListenerRunner`) hands every listener to another thread and looks every 10 ms whether it called
`ack()`: two more thread switches per request and up to 10 ms of waiting, which on a busy machine is most of an
acknowledgement's time. When the web side put an `ANSWER` (an `Answering`) in the request's context
(`bot.web.dispatch`), this runner instead runs the listener on the dispatching thread and hands its
acknowledgement to `ANSWER` as soon as `ack()` is called; the listener then goes on with its work (a query,
`respond()`) on the same thread while Slack already has its answer. Events are acknowledged before their
listener runs, as Bolt does. Requests without it (Socket Mode) are run by Bolt's runner unchanged.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.listener import Listener
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.logger.messages import warning_did_not_call_ack

from bot.slack.requests import ANSWER

JSON = "application/json;charset=utf-8"  # what Bolt's own acknowledgements with blocks say they are


class Answering:
    """What a request's `ANSWER` is: it hands Slack the first acknowledgement offered and says whether it was that
    one. A listener that answers in its acknowledgement after some work first asks for a deadline
    (`empty_after`): past it Slack is acknowledged empty, and the listener, told its answer came too late, posts
    it to the response URL instead. Thread-safe; made on the event loop's thread, called from the listener's.

    The deadline is kept by a look the loop takes `LOOK_AFTER` seconds after the request came, armed here, on the
    loop's own thread: a listener asking for a deadline from then on only notes it, where waking the loop from its
    thread (a write to the loop's pipe, and the wait to get the interpreter back) cost a status request a fifth of
    its time. A deadline sooner than the look, or asked for after it, is handed to the loop at once."""

    LOOK_AFTER = 1.0

    def __init__(self, loop: asyncio.AbstractEventLoop, settle: Callable[[BoltResponse], None]) -> None:
        self._loop = loop
        self._settle = settle
        self._lock = threading.Lock()
        self._answered = False
        self._since = time.monotonic()
        self._empty_at: float | None = None  # the deadline asked for
        self._looked = False  # the loop's look found no deadline and ended
        self._look_handle = loop.call_later(self.LOOK_AFTER, self._look)

    def __call__(self, response: BoltResponse) -> bool:
        with self._lock:
            if self._answered:
                return False
            self._answered = True
        self._loop.call_soon_threadsafe(self._settled, response)
        return True

    def empty_after(self, seconds: float) -> None:
        """Acknowledge Slack empty `seconds` after the request came, unless it has its answer by then."""
        with self._lock:
            self._empty_at = self._since + seconds
            noted = not self._looked and seconds >= self.LOOK_AFTER
        if not noted:
            self._loop.call_soon_threadsafe(self._look)

    def _settled(self, response: BoltResponse) -> None:  # on the loop
        self._look_handle.cancel()
        self._settle(response)

    def _look(self) -> None:  # on the loop
        with self._lock:
            if self._answered:
                return
            if self._empty_at is None:
                self._looked = True
                return
            wait = self._empty_at - time.monotonic()
        if wait > 0:
            self._look_handle.cancel()
            self._look_handle = self._loop.call_later(wait, self._look)
        else:
            self(BoltResponse(status=200, body=""))


class AnsweringAck(Ack):
    """`ack()` that also hands its response to `answer`, once; `delivered` says whether Slack got it (not when an
    empty acknowledgement went first, at a deadline the listener asked for: `Answering`)."""

    def __init__(self, answer: Answering) -> None:
        super().__init__()
        self.answer = answer
        self.delivered = False

    def answer_within(self, seconds: float) -> None:
        """Slack is acknowledged empty `seconds` after the request came unless `ack()` was called by then."""
        self.answer.empty_after(seconds)

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        first = self.response is None
        response = super().__call__(*args, **kwargs)
        if first:
            self.delivered = self.answer(response)
        return response

    def json(self, body: str) -> BoltResponse:
        """`ack()` with a body already written as JSON (an answer kept and given again: Bolt would write it anew)."""
        if self.response is not None:
            return self.response
        self.response = BoltResponse(status=200, body=body, headers={"content-type": JSON})
        self.delivered = self.answer(self.response)
        return self.response


class AnsweringListenerRunner(ThreadListenerRunner):
    def run(
        self,
        request: BoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: Listener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        answer: Answering | None = request.context.get(ANSWER)
        if answer is None or self.process_before_response or request.lazy_only:
            return super().run(request, response, listener_name, listener, starting_time)
        ack = AnsweringAck(answer)
        request.context["ack"] = ack
        if listener.auto_acknowledgement:
            ack()  # an event: Slack hears at once, whatever the listener then does
        for lazy_function in listener.lazy_functions:
            self._start_lazy_function(lazy_function, request)
        try:
            self.listener_start_handler.handle(request=request, response=response)
            listener.run_ack_function(request=request, response=response)
        except Exception as error:  # Bolt's handling, as in ThreadListenerRunner.run
            failed: BoltResponse | None = None if ack.response is not None else BoltResponse(status=500)
            self.listener_error_handler.handle(error=error, request=request, response=failed)
            if failed is not None:
                ack.response = failed
                answer(failed)
        finally:
            self.listener_completion_handler.handle(request=request, response=response)
        if ack.response is None:
            self.logger.warning(warning_did_not_call_ack(listener_name))
        return ack.response


def answer_on_ack(app: App) -> None:
    """Give `app` the runner above, with Bolt's handlers and executors; call before `@app.error`."""
    bolt = app.listener_runner
    app._listener_runner = AnsweringListenerRunner(  # Bolt takes no runner as a parameter
        logger=bolt.logger,
        process_before_response=bolt.process_before_response,
        listener_error_handler=bolt.listener_error_handler,
        listener_start_handler=bolt.listener_start_handler,
        listener_completion_handler=bolt.listener_completion_handler,
        listener_executor=bolt.listener_executor,
        lazy_listener_runner=bolt.lazy_listener_runner,
    )
