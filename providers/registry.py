"""The accounting packages by name, and `bot`'s only door to them: their settings, the configured providers,
the secrets to mask, and every package's name and title. Adding a package is one line in PACKAGES."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from pydantic import ValidationError

from providers.base import Provider
from providers.myob import MyobProvider, MyobSettings
from providers.quickbooks import QuickBooksProvider, QuickBooksSettings
from providers.settings import ProviderSettings, ProviderSettingsError, describe_errors
from providers.xero.client import XeroProvider
from providers.xero.settings import XeroSettings


@dataclass(frozen=True)
class Package:
    """One accounting package: its name, its title for people, its settings class and how to build it.

    `factory(settings, *, transport, sleep, clock)` makes the provider (usually its class)."""

    name: str
    title: str
    settings: type[ProviderSettings]
    factory: Callable[..., Provider]


PACKAGES: dict[str, Package] = {
    XeroProvider.name: Package(XeroProvider.name, XeroProvider.title, XeroSettings, XeroProvider),
    MyobProvider.name: Package(MyobProvider.name, MyobProvider.title, MyobSettings, MyobProvider),
    QuickBooksProvider.name: Package(
        QuickBooksProvider.name, QuickBooksProvider.title, QuickBooksSettings, QuickBooksProvider
    ),
}


class UnknownProvider(LookupError):
    """No accounting package by that name; the message lists the known ones."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.known = sorted(PACKAGES)
        super().__init__(f"No accounting package called {name!r}; known: {', '.join(self.known)}.")


def package(name: str) -> Package:
    """The package called `name`, or UnknownProvider."""
    try:
        return PACKAGES[name]
    except KeyError:
        raise UnknownProvider(name) from None


def known() -> tuple[str, ...]:
    """Every package's name, configured here or not (for help and the connect buttons)."""
    return tuple(PACKAGES)


def titles() -> dict[str, str]:
    """Every package's name and title: `{"xero": "Xero", ...}`, configured here or not."""
    return {name: p.title for name, p in PACKAGES.items()}


def load_settings(
    env_file: str | Path | None = ".env", overrides: Mapping[str, Any] | None = None
) -> dict[str, ProviderSettings]:
    """Every package's settings from the environment, `env_file` (None: none) and `overrides`.

    `overrides` are keyed as in the environment but lower-case (`xero_client_id`); each goes to the package
    whose prefix it has, and keys of no package are ignored, so the bot may pass all of its own. Raises one
    ProviderSettingsError naming every malformed setting of every package."""
    split: dict[str, dict[str, Any]] = {name: {} for name in PACKAGES}
    for key, value in (overrides or {}).items():
        for name, p in PACKAGES.items():
            prefix = p.settings.env_prefix().lower()
            if key.lower().startswith(prefix):
                split[name][key.lower().removeprefix(prefix)] = value
    settings: dict[str, ProviderSettings] = {}
    problems: list[str] = []
    for name, p in PACKAGES.items():
        try:
            settings[name] = p.settings(_env_file=env_file, **split[name])  # type: ignore[call-arg]
        except ValidationError as exc:
            problems += describe_errors(p.settings, exc.errors())
    if problems:
        raise ProviderSettingsError(problems)
    return settings


def get_provider(
    name: str,
    settings: ProviderSettings,
    *,
    transport: httpx2.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Provider:
    """The provider called `name` built from its settings; `transport`, `sleep` and `clock` are test seams."""
    p = package(name)
    if not isinstance(settings, p.settings):
        raise TypeError(f"{name} needs {p.settings.__name__}, not {type(settings).__name__}")
    return p.factory(settings, transport=transport, sleep=sleep, clock=clock)


def configured(
    settings: Mapping[str, ProviderSettings],
    *,
    transport: httpx2.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Provider]:
    """The providers this deployment offers: the packages whose client id and secret are both set."""
    return {
        name: get_provider(name, s, transport=transport, sleep=sleep, clock=clock)
        for name, s in settings.items()
        if s.configured
    }


def secret_values(settings: Mapping[str, ProviderSettings]) -> list[str]:
    """Every package's secrets, for log redaction to mask wherever they appear."""
    return [value for s in settings.values() for value in s.secret_values()]


def credential_names(name: str) -> str:
    """`XERO_CLIENT_ID and XERO_CLIENT_SECRET`: what an admin sets to offer the package."""
    return package(name).settings.credential_names()
