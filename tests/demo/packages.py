"""The accounting packages the demo starts, one entry each: the module that serves the package's fake, and the
prefix of the bot settings that point at it.

A package fake's `python -m` entry takes `--port N`, registers the demo app for `PUBLIC_URL/oauth/<name>/callback`
(PUBLIC_URL read from its environment) and prints the bot's settings for it as `PREFIX_KEY=value` lines before it
serves; the demo hands those lines to the bot."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoPackage:
    name: str  # the registry's name: "xero"
    module: str  # served by `python -m <module> --port N`

    @property
    def prefix(self) -> str:
        """What the package's settings start with: `XERO_`."""
        return f"{self.name.upper()}_"

    def settings(self, printed: Iterable[str]) -> dict[str, str]:
        """The bot settings among the lines the fake printed: every `PREFIX_KEY=value`."""
        pattern = re.compile(rf"^\s*({re.escape(self.prefix)}[A-Z0-9_]+)=(\S+)\s*$")
        return {m[1]: m[2] for m in map(pattern.match, printed) if m}


PACKAGES: tuple[DemoPackage, ...] = (
    DemoPackage("xero", "tests.fakes.xero"),
    DemoPackage("myob", "tests.fakes.myob"),
    DemoPackage("quickbooks", "tests.fakes.quickbooks"),
)
