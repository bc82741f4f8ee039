"""A separate process that sends one claimed invoice to the package, for the test that kills it mid-call.

python -m tests.invoice_worker INVOICE_ID

Settings (database, Slack, Xero) come from the environment, as the bot's do. It prints `ready`, then sends.
"""

from __future__ import annotations

import sys

from bot.invoices import raising
from bot.runtime import Runtime
from bot.settings import load_settings


def main() -> None:
    runtime = Runtime.from_settings(load_settings(None))
    print("ready", flush=True)
    raising.send(runtime, invoice_id=int(sys.argv[1]))
    print("sent", flush=True)
    runtime.close()


if __name__ == "__main__":
    main()
