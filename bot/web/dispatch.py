"""Hand a verified Slack request to the Bolt app on a worker thread, and answer Slack as soon as a listener calls
`ack()` (`bot.slack.runner`), while the listener goes on with its work on that thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor

from slack_bolt import App, BoltRequest, BoltResponse

from bot.slack.requests import ANSWER
from bot.slack.runner import Answering

WORKERS = 20  # requests whose listeners run at once; a listener holds its thread until its work is done


class Dispatcher:
    def __init__(self, app: App, workers: int = WORKERS) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-request")

    async def acknowledgement(self, request: BoltRequest) -> BoltResponse:
        """The listener's `ack()`, or what dispatching answered without one (a middleware's refusal, a 404).

        The worker wakes the event loop only for an answer Slack has not had: once a listener acknowledged, what
        `dispatch` returns is its acknowledgement again and is dropped on the worker's side (`run_in_executor`
        woke the loop a second time for each request, to hand it back)."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[BoltResponse] = loop.create_future()

        def settle(response: BoltResponse) -> None:
            if not answered.done():
                answered.set_result(response)

        def failed(error: BaseException) -> None:
            if not answered.done():
                answered.set_exception(error)

        answer = Answering(loop, settle)
        request.context[ANSWER] = answer

        def dispatch() -> None:  # on a worker
            try:
                response = self.app.dispatch(request)
            except BaseException as error:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(failed, error)
                return
            if not loop.is_closed():
                answer(response)  # the acknowledgement, unless a listener's `ack()` came first

        def cancelled(work: Future[None]) -> None:  # the bot is stopping before the request was dispatched
            if work.cancelled() and not loop.is_closed():
                answer(BoltResponse(status=503, body=""))

        self.executor.submit(dispatch).add_done_callback(cancelled)
        return await answered

    def close(self) -> None:
        """Let the listeners still running finish."""
        self.executor.shutdown(wait=True, cancel_futures=True)
