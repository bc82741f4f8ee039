"""What the MYOB fake keeps: company files with their accounts and customer cards, limits, and injected failures.
Apps, the user, codes and tokens are the OAuth2 server's; requests are recorded as the Xero fake's `Call`s."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.xero.records import Call

__all__ = ["Call", "MyobLimits", "_Card", "_CompanyFile", "_FailureRule"]


@dataclass(frozen=True)
class MyobLimits:
    """MYOB's limits per API key: `per_second` calls in any second, `per_day` in a rolling day."""

    per_second: int = 8
    per_day: int = 1_000_000


@dataclass
class _Card:
    """An account or a customer card: MYOB's fields without LastModified, and when it last changed (epoch)."""

    data: dict[str, Any]
    modified_at: float
    raw: bool = False  # served exactly as given, whatever its shape


@dataclass
class _CompanyFile:
    id: str
    name: str
    administrator: bool  # whether the fake's user is an administrator of the file (only they may consent)
    time_zone: str  # the zone its zone-less times are written in
    accounts: dict[str, _Card] = field(default_factory=dict)
    customers: dict[str, _Card] = field(default_factory=dict)
    tax_codes: dict[str, _Card] = field(default_factory=dict)
    invoices: dict[str, _Card] = field(default_factory=dict)  # service invoices
    payments: dict[str, _Card] = field(default_factory=dict)  # customer payments
    posted: list[tuple[str, Any]] = field(default_factory=list)  # (resource, body) of every create, as sent
    removed: bool = False
    seq: int = 0


@dataclass
class _FailureRule:
    path_substring: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    method: str | None = None  # only requests of this method; None: any


@dataclass
class _KeyUse:
    """One API key's calls, for its limits."""

    second: deque[float] = field(default_factory=deque)
    day: deque[float] = field(default_factory=deque)
    inactive: bool = False
