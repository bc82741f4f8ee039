"""A separate process that refreshes one connection's tokens, for the cross-process locking test.

python -m tests.refresh_worker DATABASE_URL KEY XERO_URL CONNECTION_ID REJECTED_TOKEN GO_FILE
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from bot.tokens import ConnectionTokens
from providers.xero import XeroConfig, XeroProvider
from storage.crypto import SecretBox
from storage.db import Database


def main() -> None:
    database_url, key, xero_url, connection_id, rejected, go_file = sys.argv[1:7]
    db = Database(database_url, SecretBox(key))
    provider = XeroProvider(
        XeroConfig(
            client_id=sys.argv[7],
            client_secret=sys.argv[8],
            token_url=f"{xero_url}/connect/token",
            connections_url=f"{xero_url}/connections",
            api_url=f"{xero_url}/api.xro/2.0",
        )
    )
    keeper = ConnectionTokens(db, provider, int(connection_id))
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not Path(go_file).exists():  # both processes start refreshing at the same moment
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.001)
    token = keeper.refreshed_access_token(rejected)
    print(f"token-digest {hashlib.sha256(token.encode()).hexdigest()}", flush=True)
    db.dispose()


if __name__ == "__main__":
    main()
