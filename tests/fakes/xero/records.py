"""What the Xero fake keeps: the requests it received, and the private records of organisations, contacts,
accounts, connections and injected failures. Apps, the demo user, codes and tokens are the OAuth2 server's."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.oauth2 import ClientApp, User

XeroClientApp = ClientApp  # an app registered at the fake; no secret for an "Auth Code with PKCE" app
XeroUser = User


@dataclass
class Call:
    """One request the fake received; secrets (Authorization, cookies) are redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int | None = None


@dataclass
class _Organisation:
    tenant_id: str
    name: str
    tenant_type: str
    high_volume_threshold: int | None
    contacts: dict[str, _Contact] = field(default_factory=dict)
    accounts: dict[str, _Account] = field(default_factory=dict)
    contact_seq: int = 0
    account_seq: int = 0
    minute: deque[float] = field(default_factory=deque)
    day: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    most_in_flight: int = 0  # the most calls it ever had at once (tests read it)
    contacts_version: int = 0  # bumped by every change to a contact: the listing cache is keyed on it
    listings: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)

    def contacts_changed(self) -> None:
        self.contacts_version += 1
        self.listings.clear()


@dataclass
class _Contact:
    data: dict[str, Any]  # Xero's fields, PascalCase, without UpdatedDateUTC
    updated_at: float
    raw: bool = False  # added with `add_raw_contact`: served exactly as given, whatever its shape


@dataclass
class _Account:
    data: dict[str, Any]
    updated_at: float


@dataclass
class _Connection:
    id: str
    user_id: str
    client_id: str
    tenant_id: str
    auth_event_id: str
    created_at: float
    updated_at: float


@dataclass
class _FailureRule:
    path_substring: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    query: dict[str, str] = field(default_factory=dict)  # parameters the request must have too (`page`: "3")

    def matches(self, call: Call) -> bool:
        return self.path_substring in call.path.lower() and _has(call, self.query)


def _has(call: Call, query: Mapping[str, str]) -> bool:
    """Whether the call's query has each of `query`'s parameters with its value."""
    return all(call.query.get(name) == value for name, value in query.items())
