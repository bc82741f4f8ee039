"""A separate process that refreshes one connection's tokens, for the cross-process refresh tests.

python -m tests.refresh_worker DATABASE_URL KEY XERO_URL CONNECTION_ID REJECTED_TOKEN CLIENT_ID CLIENT_SECRET

It says "ready" on stdout, refreshes when a line arrives on stdin, then prints the digest of the access token
it got. The token keeper's log goes to stderr, so a test can see it wait for another process's refresh.
"""

from __future__ import annotations

import hashlib
import logging
import sys

from bot.connections.tokens import ConnectionTokens
from providers.xero.client import XeroProvider
from providers.xero.settings import XeroSettings
from storage.crypto import SecretBox
from storage.db import Database


def main() -> None:
    database_url, key, xero_url, connection_id, rejected, client_id, client_secret = sys.argv[1:8]
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    logging.getLogger("bot.connections.tokens").setLevel(logging.INFO)
    db = Database(database_url, SecretBox(key))
    provider = XeroProvider(
        XeroSettings(
            _env_file=None,
            client_id=client_id,
            client_secret=client_secret,
            token_url=f"{xero_url}/connect/token",
            connections_url=f"{xero_url}/connections",
            api_url=f"{xero_url}/api.xro/2.0",
        )
    )
    keeper = ConnectionTokens(db, provider, int(connection_id))
    print("ready", flush=True)
    sys.stdin.readline()  # the parent says go to both workers at once
    token = keeper.refreshed_access_token(rejected)
    print(f"token-digest {hashlib.sha256(token.encode()).hexdigest()}", flush=True)
    db.dispose()


if __name__ == "__main__":
    main()
