"""A process whose import runner never ticks by itself: it claims work only when another process's notice wakes
it (PostgreSQL LISTEN/NOTIFY), for the cross-process wake-up test.

python -m tests.wake_worker

Settings come from the environment, as the bot's do. It prints `listening` once its LISTEN is in force and it
looked for work once, then
works until its standard input closes.
"""

from __future__ import annotations

import sys

from bot.imports.runner import ImportRunner
from bot.imports.runs import ImportPolicy
from bot.runtime import Runtime
from bot.settings import load_settings
from bot.slack.import_reports import slack_reporters


def main() -> None:
    runtime = Runtime.from_settings(load_settings(None))
    runner = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=ImportPolicy(poll=0.05))
    runner.listen()
    assert runner.listener is not None and runner.listener.listening.wait(10)
    assert runner.ticked.wait(10)  # the look for work missed before listening: from now on, only notices wake it
    print("listening", flush=True)
    sys.stdin.read()  # until the test closes it
    runner.shutdown()
    runtime.close()


if __name__ == "__main__":
    main()
