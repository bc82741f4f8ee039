"""Hand a verified Slack request to the Bolt app on a worker thread, and answer Slack as soon as a listener calls
`ack()` (`bot.slack.runner`), while the listener goes on with its work on that thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltRequest, BoltResponse

from bot.slack.requests import ANSWER
from bot.slack.runner import Answering

WORKERS = 20  # requests whose listeners run at once; a listener holds its thread until its work is done


class Dispatcher:
    def __init__(self, app: App, workers: int = WORKERS) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-request")

    async def acknowledgement(self, request: BoltRequest) -> BoltResponse:
        """The listener's `ack()`, or what dispatching answered without one (a middleware's refusal, a 404)."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[BoltResponse] = loop.create_future()

        def settle(response: BoltResponse) -> None:
            if not answered.done():
                answered.set_result(response)

        def finished(dispatched: asyncio.Future[BoltResponse]) -> None:
            if dispatched.cancelled():  # the bot is stopping
                settle(BoltResponse(status=503, body=""))
            elif (error := dispatched.exception()) is not None:
                if not answered.done():
                    answered.set_exception(error)
            else:
                settle(dispatched.result())

        request.context[ANSWER] = Answering(loop, settle)
        loop.run_in_executor(self.executor, self.app.dispatch, request).add_done_callback(finished)
        return await answered

    def close(self) -> None:
        """Let the listeners still running finish."""
        self.executor.shutdown(wait=True, cancel_futures=True)
