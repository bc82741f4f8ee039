"""The reference the import is measured against: Xero's official Python SDK (xero-python, the `bench` extra)
fetching and parsing every page of contacts, and nothing else.

`python -m bench.sdk_reference API_URL TENANT TOKEN PAGE_SIZE` prints `contacts seconds`.
"""

from __future__ import annotations

import sys
import time


def fetch_all(api_url: str, tenant: str, token: str, page_size: int) -> tuple[int, float]:
    from xero_python.accounting import AccountingApi
    from xero_python.api_client import ApiClient, Configuration
    from xero_python.api_client.oauth2 import OAuth2Token

    stored = {
        "access_token": token,
        "refresh_token": "unused",
        "token_type": "Bearer",
        "scope": ["accounting.contacts.read"],
        "expires_in": 1800,
        "expires_at": time.time() + 1800,
    }
    client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id="bench", client_secret="bench")),
        oauth2_token_getter=lambda: stored,
        oauth2_token_saver=lambda token: None,
    )
    client.set_oauth2_token(stored)
    api = AccountingApi(client, base_url=api_url)
    started, contacts, page = time.perf_counter(), 0, 1
    while True:
        answer = api.get_contacts(tenant, page=page, page_size=page_size, include_archived=True)
        contacts += len(answer.contacts or [])
        if len(answer.contacts or []) < page_size:
            return contacts, time.perf_counter() - started
        page += 1


if __name__ == "__main__":
    api_url, tenant, token, size = sys.argv[1:5]
    count, seconds = fetch_all(api_url, tenant, token, int(size))
    print(count, seconds)
