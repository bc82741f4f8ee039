"""A separate process that claims and runs import runs, for the crash and several-process tests.

python -m tests.import_worker PAGE_SIZE [BATCH_RECORDS]

Settings (database, Slack, Xero) come from the environment, as the bot's do. It prints `ready`, waits for a
line on its standard input (so several workers start at once), then claims due runs and runs them one at a
time, printing `claimed <id>` as it takes each, until there is none left to claim.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from bot.imports.runner import ImportRunner
from bot.imports.runs import ImportPolicy, claim
from bot.runtime import Runtime
from bot.settings import load_settings
from bot.slack.import_reports import slack_reporters
from providers.xero.client import XeroProvider

LEASE = timedelta(seconds=30)


def main() -> None:
    page_size = int(sys.argv[1])
    batch = {"batch_records": int(sys.argv[2])} if len(sys.argv) > 2 else {}
    runtime = Runtime.from_settings(load_settings(None))
    xero = runtime.providers["xero"]
    assert isinstance(xero, XeroProvider)
    runtime.providers["xero"] = XeroProvider(
        xero.settings.model_copy(update={"page_size": page_size, "backoff": 0.001})
    )
    xero.close()
    runner = ImportRunner(
        runtime,
        reporters=slack_reporters(runtime),
        policy=ImportPolicy(lease=LEASE, poll=0.05, retries=2, backoff=0.01, **batch),
    )
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    while (run_id := claim(runtime.db, owner=runner.owner, now=runtime.clock(), policy=runner.policy)) is not None:
        print(f"claimed {run_id}", flush=True)
        runner.run_claimed(run_id)
    runner.shutdown()
    runtime.close()


if __name__ == "__main__":
    main()
