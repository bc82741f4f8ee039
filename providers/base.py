"""The provider interface, its normalised records and its few typed errors.

Exceptions::

    ProviderError                 anything a package did that we could not use
     +-- NeedsReconnect           the grant is gone (invalid_grant, revoked, 401 after refresh): log in again
     +-- RateLimited              the package said "wait"; `retry_after` seconds, `scope` minute / day / ...
     +-- Unavailable              5xx, timeouts, connection errors after short retries
     +-- BadRequest               the package refused what we sent (validation, wrong tenant, ...)

Each error carries a message written for a person (`format_message()`), saying what happened and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str | None = None
    # When the package forgets the refresh token if nobody uses it, and when whatever happens, where it says so
    # (QuickBooks' `x_refresh_token_expires_in` and, asked for, its 5-year `x_refresh_token_hard_expires_in`).
    refresh_expires_at: datetime | None = None
    refresh_hard_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never print a token, even in a traceback
        return f"Tokens(expires_at={self.expires_at!r}, scope={self.scope!r})"


@dataclass(frozen=True)
class Grant:
    """What the OAuth callback brought: tokens plus what the package adds (Xero's auth event id, ...)."""

    tokens: Tokens
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Organisation:
    """One organisation (Xero tenant, MYOB company file, QuickBooks realm) a grant reaches."""

    id: str
    name: str
    connection_id: str | None = None  # the package's id for our link to it (Xero's connection id)
    kind: str | None = None  # ORGANISATION, PRACTICE, ...
    just_authorised: bool = False


class TokenKeeper(Protocol):
    """Handed in by `bot`: gives a fresh access token, refreshing under a lock when needed."""

    def access_token(self) -> str: ...

    def refreshed_access_token(self, rejected: str) -> str:
        """Called after the package refused `rejected` (401): refresh unless someone already did."""
        ...

    def refresh_token(self) -> str | None:
        """The current refresh token, for a provider that revokes it when disconnecting; None when there is none."""
        ...


class CallBudget(Protocol):
    """Handed in by `bot` (in a `Link`): the calls made under a package's limits, counted by every process of ours
    together, so that several processes share one budget per limit instead of each spending a full one."""

    def take_all(self, limits: Sequence[tuple[str, int, float]]) -> tuple[int, float]:
        """Count one call under each of `limits` in turn (`limit`: at most `calls` in any `per` seconds), until one
        has no room (nothing is counted under it, nor under those after it): how many were counted, and the seconds
        until the next may count it (0.0 when all were)."""
        ...

    def observe(self, limit: str, *, remaining: int, calls: int, per: float) -> None:
        """The package says `remaining` calls are left under `limit`: count the calls we did not see ourselves."""
        ...

    def hold(self, limit: str, *, calls: int, lease: float) -> str | None:
        """Take one of the `calls` slots of `limit` (calls at once) for at most `lease` seconds, after which a
        slot whose holder died comes back: its name, to `release`, or None while every slot is held."""
        ...

    def release(self, limit: str, slot: str) -> None:
        """Let go of a slot `hold` gave."""
        ...


@dataclass(frozen=True)
class CallLimit:
    """One of a package's rate limits that our processes share (`CallBudget`): `calls` in any `per` seconds,
    for the whole app or per organisation (`scope`), and the answer header saying how many remain, if any.
    `key` names it; an organisation's limit is counted under `key` plus the organisation's id. A limit that
    `paces` (an organisation's calls a minute) is waited for in the calling thread, as a pacer would, instead of
    raising RateLimited: reaching it is the normal pace of a long walk, not a reason to leave the work.
    A limit of calls at once (scope CONCURRENT) holds a slot for each call in flight, `calls` of them, and is
    always waited for (a call ends within moments); its `per` is the longest a slot stays held by a process that
    died before letting go, so make it longer than any call takes."""

    key: str
    scope: RateLimitScope
    calls: int
    per: float
    remaining_header: str | None = None
    paces: bool = False

    def counter(self, organisation_id: str | None) -> str:
        return self.key if self.scope == RateLimitScope.APP else f"{self.key}:{organisation_id}"


@dataclass(frozen=True)
class Link:
    """The chosen organisation, the keeper of its tokens and, where several processes share the package's limits,
    the budget that counts the calls."""

    organisation_id: str
    tokens: TokenKeeper
    connection_id: str | None = None
    budget: CallBudget | None = None


class AccountKind(StrEnum):
    """What an account is for, in one vocabulary across packages (each maps its own types onto these)."""

    INCOME = "income"
    OTHER_INCOME = "other_income"
    COST_OF_SALES = "cost_of_sales"
    EXPENSE = "expense"
    BANK = "bank"
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"


ACCOUNT_KINDS: tuple[str, ...] = tuple(AccountKind)


@dataclass(frozen=True)
class Account:
    id: str
    code: str | None
    name: str
    kind: AccountKind
    type: str  # the package's own type (SALES, REVENUE, DIRECTCOSTS, ...)
    active: bool = True
    tax_type: str | None = None
    type_label: str = ""  # the type in words for people ("Direct costs"); the package's provider fills it in


# The records below keep `dataclass(frozen=True)` but set their fields in their own `__init__`, as the instance's
# `__dict__` made whole at once: a page builds a thousand customers, each with its phones and addresses, and the
# `__init__` the dataclass writes sets each field with its own `object.__setattr__` call, three times slower. A dict
# of its own, not one filled field by field: CPython 3.11 shares the keys of a class's instances' dicts, and reading
# an attribute from such a shared dict is never specialised (some 590 instructions a read, against 235 from a dict of
# its own, under callgrind), while a page's records are read many times over (their rows, their CSV lines). Reading
# and preparing a page of 1,000 contacts took 2.5 % fewer instructions (196.1 million to 191.2). The records stay
# frozen (`__setattr__` still refuses); tests/test_provider_records.py holds each `__init__` to the declared fields
# and their defaults.
_set = object.__setattr__


@dataclass(frozen=True)
class Address:
    kind: str  # "postal" | "street" | ...
    lines: tuple[str, ...] = ()
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def __init__(
        self,
        kind: str,
        lines: tuple[str, ...] = (),
        city: str | None = None,
        region: str | None = None,
        postal_code: str | None = None,
        country: str | None = None,
    ) -> None:
        _set(
            self,
            "__dict__",
            {
                "kind": kind,
                "lines": lines,
                "city": city,
                "region": region,
                "postal_code": postal_code,
                "country": country,
            },
        )

    def is_empty(self) -> bool:
        return not (self.lines or self.city or self.region or self.postal_code or self.country)


@dataclass(frozen=True)
class Phone:
    kind: str  # "default" | "mobile" | "fax" | "office" | "ddi"
    number: str

    def __init__(self, kind: str, number: str) -> None:
        _set(self, "__dict__", {"kind": kind, "number": number})


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    email: str | None = None
    phones: tuple[Phone, ...] = ()
    addresses: tuple[Address, ...] = ()
    active: bool = True
    is_customer: bool | None = None  # None where the package does not say
    is_supplier: bool | None = None
    updated_at: datetime | None = None
    merged_into: str | None = None
    erase_personal_data: bool = False  # GDPR request at the package
    number: str | None = None
    raw_status: str | None = None
    # The package deleted the record and told us only its id (QuickBooks' change data capture): what we hold of it
    # stays as it was, marked inactive.
    removed: bool = False

    @property
    def gone(self) -> bool:
        """Archived, merged into another contact, or erased on request at the package."""
        return not self.active or bool(self.merged_into) or self.erase_personal_data

    def __init__(
        self,
        id: str,
        name: str,
        first_name: str | None = None,
        last_name: str | None = None,
        company: str | None = None,
        email: str | None = None,
        phones: tuple[Phone, ...] = (),
        addresses: tuple[Address, ...] = (),
        active: bool = True,
        is_customer: bool | None = None,
        is_supplier: bool | None = None,
        updated_at: datetime | None = None,
        merged_into: str | None = None,
        erase_personal_data: bool = False,
        number: str | None = None,
        raw_status: str | None = None,
        removed: bool = False,
    ) -> None:
        _set(
            self,
            "__dict__",
            {
                "id": id,
                "name": name,
                "first_name": first_name,
                "last_name": last_name,
                "company": company,
                "email": email,
                "phones": phones,
                "addresses": addresses,
                "active": active,
                "is_customer": is_customer,
                "is_supplier": is_supplier,
                "updated_at": updated_at,
                "merged_into": merged_into,
                "erase_personal_data": erase_personal_data,
                "number": number,
                "raw_status": raw_status,
                "removed": removed,
            },
        )


@dataclass(frozen=True)
class Cursor:
    """Where to resume after a page; opaque to the bot, serialisable as JSON."""

    value: dict[str, Any]


# The longest id and text a record carries: what the bot's tables hold. Every provider's records are checked
# against these at its boundary (`providers.records`), so nothing a package sends can be refused further in.
ID_LIMIT = 64
TEXT_LIMIT = 255


@dataclass(frozen=True)
class Skipped:
    """A record of the package that could not be used at all (no usable id); `reason` says why, in words."""

    id: str | None
    name: str | None
    reason: str


class Glance(NamedTuple):
    """A record of an encoded page at a first look (`Encoded.glance`), before it is read: its id (as the read
    record's), `source`, a digest of its bytes as the package sent them and of the code that reads them (the same
    bytes read by the same code make the same record), and what an import decides and counts of a record it does
    not read, as the read record has it: `active`, `gone` (`Customer.active` false, `merged_into` or
    `erase_personal_data` set), and the two roles."""

    id: str
    source: str
    active: bool
    gone: bool
    is_customer: bool | None
    is_supplier: bool | None


class Glanced(Protocol):
    """An encoded page at a first look: each record's `Glance`, and its records read but those it is told to leave."""

    def glances(self) -> list[Glance] | None:
        """Each record at a glance; None where the records cannot be told apart so (one without a usable id, an id
        twice): the page is read whole."""
        ...

    def read(self, leave: Collection[str]) -> tuple[list[Customer], list[Skipped], dict[str, str]]:
        """The page's records as `Encoded.read` reads them but those whose id is in `leave` (by their glances), the
        records it could not use, and the source of each record read, by id (none for records read field by
        field: they are read again next time)."""
        ...


# What reads a page's records as the package sent them: checked customers and the records it could not use (as `Page`
# holds them); raises `ProviderError` for a body it cannot read at all (`Encoded.read`, `Provider.page_reader`).
RecordsReader = Callable[[bytes], tuple[list[Customer], list[Skipped]]]


@dataclass(frozen=True)
class Encoded:
    """A page's records as the package sent them, not read yet, and the function that reads them into checked
    customers and the records it could not use (as `Page` holds them). `read` is a module-level function (or a
    partial of one), so the body can be read in another process: an import reads its next page in a process of
    its own while it writes the page before. `read` raises `ProviderError` for a body it cannot read at all.

    `glance`, where the package's reader has one: the page at a first look (`Glanced`), its sources keyed also
    with the caller's `key` (its own code: a change of it reads every record again); None for a page not of the
    documented shape: `read` reads it."""

    body: bytes
    read: RecordsReader
    glance: Callable[[bytes, bytes], Glanced | None] | None = None


@dataclass(frozen=True)
class Page:
    """One page of records. Its customers are checked and normalised (`providers.records.read_customers`): each
    has a usable id, unique within the page, and text without NUL bytes or lone surrogates that fits the
    limits above. Records that could not be used are in `skipped`, with their reason.

    A page asked for `encoded` (`Provider.customers`) may come with its records still in `encoded`, `customers`
    and `skipped` empty until read: `records()` gives them either way."""

    customers: list[Customer]
    cursor: Cursor | None  # None after the last page
    total: int | None = None  # how many records in all, when the package says
    skipped: list[Skipped] = field(default_factory=list)
    encoded: Encoded | None = None

    def records(self) -> tuple[list[Customer], list[Skipped]]:
        """The page's customers and the records that could not be used, read here if they came encoded."""
        if self.encoded is None:
            return self.customers, self.skipped
        return self.encoded.read(self.encoded.body)


class ProviderError(Exception):
    """Base of our typed provider errors; `message` is for a person."""

    what_to_do = "Try again in a few minutes; if it keeps happening, run `/accounts status`."

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail

    def format_message(self) -> str:
        return f"{self.message} {self.what_to_do}"


class NeedsReconnect(ProviderError):
    what_to_do = "An admin needs to connect again with `/accounts connect`."


class RateLimitScope(StrEnum):
    """Which of a package's limits was reached, whatever the package calls it."""

    SECOND = "second"  # calls a second (MYOB: 8 a second for the whole key): waiting is for a moment
    MINUTE = "minute"  # the organisation's calls a minute
    DAY = "day"  # the organisation's calls a day: waiting is for hours
    CONCURRENT = "concurrent"  # calls at once
    APP = "app"  # all organisations together, for our app


class RateLimited(ProviderError):
    what_to_do = "We will wait and carry on by ourselves."

    def __init__(self, message: str, *, retry_after: float, scope: RateLimitScope | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.scope = scope


class Unavailable(ProviderError):
    pass


class BadRequest(ProviderError):
    what_to_do = "Check the settings with `/accounts status`; if it keeps happening, tell us what you were doing."


class Provider(Protocol):
    """One accounting package. `bot` knows packages only through this and `providers.registry`."""

    name: str  # "xero"
    title: str  # "Xero"
    organisation_noun: str  # what the package calls what we connect to: "organisation", "company file", "company"
    # How long the package keeps a refresh token nobody uses (Xero: 60 days); None when it never forgets one.
    # The bot's keep-alive refreshes an idle connection well within it.
    refresh_token_idle_lifetime: timedelta | None

    @property
    def page_reader(self) -> RecordsReader | None:
        """What reads its pages of customers where they can come unread (`customers(encoded=True)`: `Encoded.read`),
        for an import to read them in a process of its own while it writes the page before (a process started ahead
        of any import imports it as it starts); None where its pages come read."""
        ...

    def account_type_label(self, account_type: str) -> str:
        """The package's account type (`Account.type`) in words, for grouping accounts in a dropdown."""
        ...

    def check_credentials(self) -> None:
        """Ask the token endpoint whether it knows our client id and secret (for `doctor`).

        Raises BadRequest naming the settings when it does not, Unavailable when it does not answer."""
        ...

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str: ...

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, params: Mapping[str, str]
    ) -> Grant: ...

    def organisations(self, grant: Grant) -> list[Organisation]:
        """The organisations the grant reaches, the one just authorised first."""
        ...

    def refresh(self, tokens: Tokens) -> Tokens: ...

    def disconnect(self, link: Link, *, login_shared: bool) -> None:
        """Remove our link to the organisation at the package.

        `login_shared` says that another live connection of ours uses the same log-in; the provider then
        leaves the log-in itself alone (Xero revokes the refresh token only when it is not shared)."""
        ...

    def accounts(self, link: Link) -> list[Account]: ...

    def customers(
        self, link: Link, *, since: datetime | None = None, resume: Cursor | None = None, encoded: bool = False
    ) -> Iterator[Page]:
        """Every customer record, a page at a time, from `resume` on (changed since `since`, where given).
        `encoded=True`: pages may come with their records not read yet (`Page.encoded`), for the caller to read
        where it chooses; a package whose pages are read as they come ignores it."""
        ...

    def close(self) -> None: ...
