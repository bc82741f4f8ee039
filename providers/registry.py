"""Accounting packages by name: adding one is a new module and one line in PROVIDERS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.base import Provider
from providers.xero import XeroProvider

PROVIDERS: dict[str, Callable[[Any], Provider]] = {
    XeroProvider.name: XeroProvider,
}


class UnknownProvider(LookupError):
    """No accounting package by that name; the message lists the known ones."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.known = sorted(PROVIDERS)
        super().__init__(f"No accounting package called {name!r}; known: {', '.join(self.known)}.")


def get_provider(name: str, config: Any) -> Provider:
    """The provider called `name` (`"xero"`, ...), built from its config (`XeroConfig`, ...)."""
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise UnknownProvider(name) from None
    return factory(config)
