"""A token keeper in memory, as the bot's `ConnectionTokens` behaves: refresh under a lock, at most once per rejected
access token. Provider tests hand it to a `Link` where the bot would hand a stored connection's keeper."""

from __future__ import annotations

import threading

from providers.base import Provider, Tokens


class MemoryKeeper:
    def __init__(self, provider: Provider, tokens: Tokens) -> None:
        self.provider, self.tokens, self.refreshes = provider, tokens, 0
        self._lock = threading.Lock()

    def access_token(self) -> str:
        return self.tokens.access_token

    def refreshed_access_token(self, rejected: str) -> str:
        with self._lock:
            if self.tokens.access_token == rejected:
                self.tokens = self.provider.refresh(self.tokens)
                self.refreshes += 1
            return self.tokens.access_token

    def refresh_token(self) -> str | None:
        return self.tokens.refresh_token
