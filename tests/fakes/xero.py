"""A faithful local Xero over real HTTP: OAuth 2 with PKCE, /connections, and the Accounting API's
Accounts and Contacts with Xero's envelopes, dates, paging, filters, rate limits and error bodies.

    clock = FakeClock()
    fake = XeroFake(clock=clock, limits=XeroLimits(per_minute=60))
    client = fake.register_client(redirect_uris=["http://localhost:3000/oauth/xero/callback"])
    tenant_id = fake.add_organisation("Demo Company (NZ)")
    fake.seed_contacts(tenant_id, 2500)
    with ServerThread(fake.app) as server:
        ...

The clock and the limits are parameters so that minute windows and grace periods pass in a test's
second. `python -m tests.fakes.xero --port N` serves one with a demo organisation and prints the
settings that point the bot at it. Facts it follows: /work/shared/specs/PROVIDERS.md and the official
OpenAPI specs copied in tests/specs/xero/.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import itertools
import json
import math
import os
import random
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from tests.fakes.server import serve_main

__all__ = [
    "Call",
    "FakeClock",
    "XeroClientApp",
    "XeroFake",
    "XeroLimits",
    "click_through_consent",
    "ms_date",
]

ACCOUNTING_PREFIX = "/api.xro/2.0"
KNOWN_SCOPES = frozenset(
    "openid profile email offline_access accounting.settings accounting.settings.read "
    "accounting.contacts accounting.contacts.read accounting.transactions accounting.transactions.read "
    "accounting.reports.read accounting.journals.read accounting.attachments accounting.attachments.read "
    "accounting.budgets.read".split()
)
SCOPE_WORDING = {
    "offline_access": "Keep access while you are not using the app",
    "accounting.settings.read": "View your business settings, such as the chart of accounts",
    "accounting.settings": "View and manage your business settings",
    "accounting.contacts.read": "View your contacts",
    "accounting.contacts": "View and manage your contacts",
    "openid": "Confirm who you are",
    "profile": "View your name",
    "email": "View your email address",
}
RESOURCE_SCOPES = {
    "accounts": ("accounting.settings", "accounting.settings.read"),
    "contacts": ("accounting.contacts", "accounting.contacts.read"),
}
INDEXED_CONTACT_FIELDS = frozenset({"name", "emailaddress", "accountnumber"})
REFRESH_TOKEN_LIFETIME = 60 * 24 * 3600.0
CODE_LIFETIME = 300.0
DEMO_CLIENT_ID = "0D5C4F1B2A3E4D6F8A9B0C1D2E3F4A5B"
DEMO_CLIENT_SECRET = "fake-xero-secret-change-me-0123456789abcdefghij"
XERO_500_DETAIL = (
    "An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service status."
)


# ---------------------------------------------------------------------------------------------
# Clock, limits and Xero's date formats


class FakeClock:
    """A clock that only moves when told: `clock()` is epoch seconds, `clock.sleep(s)` advances it.

    Hand `clock` to the fake and `clock`/`clock.sleep` to the provider's pacing seam, and a
    minute of rate-limited calls passes without waiting.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))


@dataclass(frozen=True)
class XeroLimits:
    """Xero's limits: per organisation `concurrent`, `per_minute`, `per_day`; per app `app_per_minute`."""

    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10_000


def ms_date(ts: float, *, zone: bool = True) -> str:
    """Xero's Microsoft JSON date: `/Date(1503348544227+0000)/` (milliseconds since the epoch)."""
    ms = round(ts * 1000)
    return f"/Date({ms}+0000)/" if zone else f"/Date({ms})/"


def _connection_date(ts: float) -> str:
    """/connections dates: `2019-12-07T18:46:19.5165400`, seven fraction digits and no zone."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


def _parse_if_modified_since(value: str | None) -> float | None:
    """ISO 8601 (what Xero's SDKs send; no zone means UTC) or an HTTP date; garbage is ignored."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class XeroClientApp:
    """An app registered at the fake; `client_secret` is None for an "Auth Code with PKCE" app."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    name: str

    def __repr__(self) -> str:
        return f"XeroClientApp(client_id={self.client_id!r}, name={self.name!r})"


@dataclass(frozen=True)
class XeroUser:
    user_id: str
    name: str
    email: str


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


@dataclass
class _Contact:
    data: dict[str, Any]  # Xero's fields, PascalCase, without UpdatedDateUTC
    updated_at: float


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
class _PendingConsent:
    id: str
    client: XeroClientApp
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str | None


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    scope: str
    user_id: str
    auth_event_id: str
    code_challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class _RefreshToken:
    value: str
    family: str
    client_id: str
    user_id: str
    auth_event_id: str
    scope: str
    issued_at: float
    spent_at: float | None = None
    successor: dict[str, Any] | None = None  # the token response handed out when it was spent
    revoked: bool = False


@dataclass
class _FailureRule:
    path_substring: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int


class _Reply(Exception):
    """Raised inside a handler to answer at once with `response`."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


# ---------------------------------------------------------------------------------------------
# Xero's error bodies


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


def _validation_exception(*messages: str) -> dict[str, Any]:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{"ValidationErrors": [{"Message": m} for m in messages]}],
    }


def _query_parse_exception(message: str) -> dict[str, Any]:
    return {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}


def _default_error_body(status: int) -> Any:
    if status == 400:
        return _validation_exception("A validation error occurred")
    if status == 401:
        return _problem(401, "Unauthorized", "AuthenticationUnsuccessful")
    if status == 403:
        return _problem(403, "Forbidden", "AuthenticationUnsuccessful")
    if status == 404:
        return "The resource you're looking for cannot be found"
    if status == 429:
        return _problem(429, "Too Many Requests", "Rate limit exceeded")
    if status == 503:
        return _problem(503, "Service Unavailable", "The Xero API is currently offline for maintenance")
    if status >= 500:
        return _problem(status, "An error occurred", XERO_500_DETAIL)
    return _problem(status, "Error", "An error occurred")


def _body_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, str | bytes):
        return PlainTextResponse(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


# ---------------------------------------------------------------------------------------------
# The `where` and `order` parameters: a small parser of Xero's filter expressions


_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|>=|<=|&&|\|\||[><().,!])'
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_Predicate = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    pass


class _WhereParser:
    """`Status=="ACTIVE" AND (Type=="BANK" OR Name.Contains("x"))`, `IsCustomer==true`, `Guid("...")`."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise QueryError(f"Unexpected character at position {pos} in where clause")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.fields: set[str] = set()

    def parse(self) -> _Predicate:
        predicate = self._or()
        if self.i != len(self.tokens):
            raise QueryError(f"Unexpected {self.tokens[self.i][1]!r} in where clause")
        return predicate

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (value is not None and token[1].upper() != value.upper()):
            raise QueryError(f"Expected {value or 'more'} in where clause")
        self.i += 1
        return token

    def _or(self) -> _Predicate:
        parts = [self._and()]
        while (t := self._peek()) and t[1].upper() in ("OR", "||"):
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self) -> _Predicate:
        parts = [self._unary()]
        while (t := self._peek()) and t[1].upper() in ("AND", "&&"):
            self.i += 1
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _unary(self) -> _Predicate:
        token = self._peek()
        if token and token[1] == "!":
            self.i += 1
            inner = self._unary()
            return lambda row: not inner(row)
        if token and token[1] == "(":
            self.i += 1
            inner = self._or()
            self._take(")")
            return inner
        return self._comparison()

    def _comparison(self) -> _Predicate:
        kind, name = self._take()
        if kind != "word":
            raise QueryError(f"Expected a field name, found {name!r}")
        path = [name]
        while (t := self._peek()) and t[1] == ".":
            self.i += 1
            path.append(self._take()[1])
        method = None
        if (t := self._peek()) and t[1] == "(":
            method = path.pop()
            self._take("(")
            argument = self._literal() if (t := self._peek()) and t[1] != ")" else None
            self._take(")")
        self.fields.add(path[0].lower())
        if method is not None:
            return self._method(path, method, argument)
        kind, op = self._take()
        if op not in ("==", "!=", ">", "<", ">=", "<="):
            raise QueryError(f"Expected a comparison after {'.'.join(path)}")
        literal = self._literal()
        return lambda row: _compare(_lookup(row, path), op, literal)

    def _method(self, path: list[str], method: str, argument: Any) -> _Predicate:
        name = method.lower()
        if name in ("contains", "startswith", "endswith"):
            needle = str(argument or "").casefold()
            check = {
                "contains": lambda v: needle in v,
                "startswith": lambda v: v.startswith(needle),
                "endswith": lambda v: v.endswith(needle),
            }[name]
            return lambda row: isinstance(v := _lookup(row, path), str) and check(v.casefold())
        raise QueryError(f"Unsupported method {method} in where clause")

    def _literal(self) -> Any:
        kind, value = self._take()
        if kind == "str":
            return json.loads(value)
        if kind == "num":
            return float(value) if "." in value else int(value)
        word = value.lower()
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            return None
        if word == "guid":
            self._take("(")
            inner = self._literal()
            self._take(")")
            return str(inner).lower()
        if word == "datetime":
            self._take("(")
            numbers = [self._literal()]
            while (t := self._peek()) and t[1] == ",":
                self.i += 1
                numbers.append(self._literal())
            self._take(")")
            try:
                return datetime(*numbers).replace(tzinfo=UTC)
            except (TypeError, ValueError) as exc:
                raise QueryError(f"Bad DateTime in where clause: {exc}") from None
        raise QueryError(f"Unexpected {value!r} in where clause")


_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def _lookup(row: dict[str, Any], path: list[str]) -> Any:
    value: Any = row
    for part in path:
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(key) if key else None
    return value


def _compare(value: Any, op: str, literal: Any) -> bool:
    if isinstance(literal, datetime) and isinstance(value, str) and (m := _MS_DATE.fullmatch(value)):
        value = datetime.fromtimestamp(int(m.group(1)) / 1000, UTC)
    if isinstance(value, str) and isinstance(literal, str):
        value, literal = value.casefold(), literal.casefold()
    if op == "==":
        return bool(value == literal)
    if op == "!=":
        return bool(value != literal)
    try:
        return bool({">": value > literal, "<": value < literal, ">=": value >= literal, "<=": value <= literal}[op])
    except TypeError:
        return False


def parse_where(text: str) -> tuple[_Predicate, set[str]]:
    """The predicate of a `where` parameter and the (lower-cased) fields it looks at."""
    parser = _WhereParser(text)
    return parser.parse(), parser.fields


def _sort(rows: list[dict[str, Any]], order: str | None, default: list[tuple[str, bool]]) -> None:
    keys = default
    if order:
        keys = []
        for part in order.split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
                raise QueryError(f"Cannot order by {part.strip()!r}")
            keys.append((words[0], len(words) == 2 and words[1].upper() == "DESC"))
    for name, descending in reversed(keys):

        def key(row: dict[str, Any], name: str = name) -> tuple[int, Any]:
            value = _lookup(row, [name])
            if isinstance(value, str) and (m := _MS_DATE.fullmatch(value)):
                return (1, int(m.group(1)))
            if isinstance(value, str):
                return (1, value.casefold())
            return (0, 0) if value is None else (1, value)

        try:
            rows.sort(key=key, reverse=descending)
        except TypeError as exc:
            raise QueryError(f"Cannot order by {name}") from exc


# ---------------------------------------------------------------------------------------------
# Seed data: a realistic default chart and varied generated contacts

_CLASS_OF_TYPE = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
    "EQUITY": "EQUITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}

# (code, name, type, tax type, extra fields); code None: a bank account without a code, as Xero allows
DEFAULT_CHART: tuple[tuple[str | None, str, str, str, dict[str, Any]], ...] = (
    ("090", "Business Bank Account", "BANK", "NONE", {"BankAccountNumber": "0209087654321050"}),
    (None, "Business Savings Account", "BANK", "NONE", {"BankAccountNumber": "0209087654321051"}),
    ("", "Company Credit Card", "BANK", "NONE", {"BankAccountType": "CREDITCARD"}),
    ("200", "Sales", "REVENUE", "OUTPUT2", {"Description": "Income from any normal business activity"}),
    ("205", "Online Sales", "SALES", "OUTPUT2", {}),
    ("260", "Other Revenue", "REVENUE", "OUTPUT2", {}),
    ("270", "Interest Income", "OTHERINCOME", "NONE", {}),
    ("280", "Grants Received", "OTHERINCOME", "EXEMPTOUTPUT", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT2", {}),
    ("320", "Subcontractors", "DIRECTCOSTS", "INPUT2", {}),
    ("400", "Advertising", "OVERHEADS", "INPUT2", {}),
    ("404", "Bank Fees", "OVERHEADS", "NONE", {}),
    ("408", "Cleaning", "OVERHEADS", "INPUT2", {}),
    ("412", "Consulting & Accounting", "EXPENSE", "INPUT2", {}),
    ("416", "Depreciation", "DEPRECIATN", "NONE", {}),
    ("420", "Entertainment", "OVERHEADS", "INPUT2", {}),
    ("429", "General Expenses", "OVERHEADS", "INPUT2", {}),
    ("433", "Insurance", "OVERHEADS", "INPUT2", {}),
    ("445", "Light, Power, Heating", "OVERHEADS", "INPUT2", {}),
    ("461", "Printing & Stationery", "OVERHEADS", "INPUT2", {}),
    ("469", "Rent", "OVERHEADS", "INPUT2", {}),
    ("473", "Repairs and Maintenance", "OVERHEADS", "INPUT2", {}),
    ("485", "Subscriptions", "EXPENSE", "INPUT2", {}),
    ("489", "Telephone & Internet", "OVERHEADS", "INPUT2", {}),
    ("493", "Travel - National", "OVERHEADS", "INPUT2", {}),
    ("494", "Travel - International", "OVERHEADS", "NONE", {"Status": "ARCHIVED"}),
    ("610", "Accounts Receivable", "CURRENT", "NONE", {"SystemAccount": "DEBTORS"}),
    ("620", "Prepayments", "PREPAYMENT", "NONE", {}),
    ("630", "Inventory", "INVENTORY", "NONE", {}),
    ("710", "Office Equipment", "FIXED", "INPUT2", {}),
    ("711", "Less Accumulated Depreciation on Office Equipment", "FIXED", "NONE", {}),
    ("750", "Investments", "NONCURRENT", "NONE", {}),
    ("800", "Accounts Payable", "CURRLIAB", "NONE", {"SystemAccount": "CREDITORS"}),
    ("820", "GST", "CURRLIAB", "NONE", {"SystemAccount": "GST"}),
    ("840", "Historical Adjustment", "CURRLIAB", "NONE", {"SystemAccount": "HISTORICAL"}),
    ("860", "Rounding", "CURRLIAB", "NONE", {"SystemAccount": "ROUNDING"}),
    ("900", "Loan", "TERMLIAB", "NONE", {}),
    ("960", "Retained Earnings", "EQUITY", "NONE", {"SystemAccount": "RETAINEDEARNINGS"}),
    ("970", "Owner A Funds Introduced", "EQUITY", "NONE", {}),
)

_FIRST = "Aroha Ben Chloé Dev Emma Finn Grace Hemi Isla Jack Kiri Liam Mia Noah Olivia Priya Quinn Ruby Sam Tama"
_LAST = "Anderson Brown Chen Davies Edwards Fraser Harris Ioane Jones Kaur Lee Martin Ngata O'Brien Patel Singh"
_PLACES = "Harbour Kauri Summit Coastal Alpine Riverside Southern Pacific Greenfield Ironbark Pōhutukawa Tōtara"
_TRADES = "Plumbing Electrical Bakery Consulting Landscaping Café Builders Design Motors Florist Joinery Dental"
_SUFFIXES = ("Ltd", "Limited", "& Co", "Group", "Partners", "NZ")
_MARKUP_NAMES = (
    "<!channel> Alerts Ltd",
    "*Bold* & _Italic_ Traders",
    "<@U0123ABCD> Holdings",
    "Tom & Jerry <Cheese> Co",
    "`rm -rf` Labs",
    "<https://evil.example|Click me> Ltd",
    "~Strike~ Supplies",
    "<!here|here> Party Hire",
)
_CITIES = (
    ("Auckland", "Auckland", "1010", "New Zealand", "64", "9"),
    ("Wellington", "Wellington", "6011", "New Zealand", "64", "4"),
    ("Christchurch", "Canterbury", "8011", "New Zealand", "64", "3"),
    ("Sydney", "NSW", "2000", "Australia", "61", "2"),
    ("Melbourne", "VIC", "3000", "Australia", "61", "3"),
    ("London", "", "EC1A 1BB", "United Kingdom", "44", "20"),
)
_STREETS = "Queen Street|Cuba Street|Colombo Street|George Street|Collins Street|Baker Street".split("|")


def _slug(text: str) -> str:
    ascii_text = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", ".", ascii_text).strip(".") or "contact"


def _empty_addresses() -> list[dict[str, Any]]:
    return [
        {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
        {
            "AddressType": "POBOX",
            "AddressLine1": "",
            "AddressLine2": "",
            "AddressLine3": "",
            "AddressLine4": "",
            "City": "",
            "Region": "",
            "PostalCode": "",
            "Country": "",
        },
    ]


def _empty_phones() -> list[dict[str, Any]]:
    return [
        {"PhoneType": kind, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}
        for kind in ("DDI", "DEFAULT", "FAX", "MOBILE")
    ]


def _generated_contact(rng: random.Random, seq: int, contact_id: str) -> dict[str, Any]:
    """One varied contact; `seq` picks the variety so any 100 in a row show every case."""
    first, last = rng.choice(_FIRST.split()), rng.choice(_LAST.split())
    person = seq % 3 == 0
    if seq % 40 == 39:
        name = f"{_MARKUP_NAMES[(seq // 40) % len(_MARKUP_NAMES)]} {seq}"
    elif person:
        name = f"{first} {last} {seq}"
    else:
        name = f"{rng.choice(_PLACES.split())} {rng.choice(_TRADES.split())} {rng.choice(_SUFFIXES)} {seq}"
    city, region, postcode, country, country_code, area = rng.choice(_CITIES)
    data: dict[str, Any] = {
        "ContactID": contact_id,
        "ContactStatus": "ACTIVE",
        "Name": name,
        "FirstName": first,
        "LastName": last,
        "EmailAddress": f"{_slug(first)}.{_slug(last)}{seq}@example.com" if person else f"accounts{seq}@example.net",
        "BankAccountDetails": "",
        "TaxNumber": f"{rng.randint(10, 99)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}" if seq % 4 == 1 else "",
        "Addresses": _empty_addresses(),
        "Phones": _empty_phones(),
        "ContactGroups": [],
        "IsSupplier": False,
        "IsCustomer": True,
        "DefaultCurrency": "AUD" if country == "Australia" else "NZD",
        "SalesDefaultLineAmountType": rng.choice(("INCLUSIVE", "EXCLUSIVE")),
        "PurchasesDefaultLineAmountType": "INCLUSIVE",
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
    }
    if seq % 4 == 0:
        data["ContactNumber"] = f"CUS{seq:05d}"
    if seq % 5 == 0:
        data["AccountNumber"] = f"ACC-{seq}"
    if seq % 8 == 2:
        data["ContactPersons"] = [
            {
                "FirstName": first,
                "LastName": last,
                "EmailAddress": f"{_slug(first)}@example.org",
                "IncludeInEmails": True,
            }
        ]
    if seq % 6 == 1:
        data["PaymentTerms"] = {"Sales": {"Day": 20, "Type": "OFFOLLOWINGMONTH"}}
    # who they are to the business: Xero sets these from invoices and bills
    if seq % 6 == 5:
        data["IsCustomer"], data["IsSupplier"] = False, True
    elif seq % 6 == 4:
        data["IsSupplier"] = True
    elif seq % 6 == 3:
        data["IsCustomer"] = False
    if data["IsCustomer"]:
        outstanding = round(rng.uniform(0, 5000), 2)
        data["Balances"] = {"AccountsReceivable": {"Outstanding": outstanding, "Overdue": round(outstanding / 3, 2)}}
    # missing data, the way real organisations have it
    if seq % 10 == 7:
        data["EmailAddress"] = ""
    if seq % 7 != 6:
        phones = data["Phones"]
        phones[1].update(PhoneNumber=f"{rng.randint(200, 999)} {rng.randint(1000, 9999)}", PhoneAreaCode=area)
        if seq % 3 != 0:
            phones[1]["PhoneCountryCode"] = country_code
        if seq % 5 == 2:
            phones[3].update(PhoneNumber=f"021 {rng.randint(100, 999)} {rng.randint(100, 999)}")
    if seq % 9 != 8:
        pobox = data["Addresses"][1]
        pobox.update(
            AddressLine1=f"{rng.randint(1, 400)} {rng.choice(_STREETS)}",
            City=city,
            Region=region,
            PostalCode=postcode,
            Country=country,
        )
        if seq % 2 == 0:
            pobox["AddressLine2"] = f"Level {rng.randint(1, 12)}"
        if seq % 4 == 3:
            data["Addresses"][0].update(City=city, Region=region, PostalCode=postcode, Country=country)
            data["Addresses"][0]["AddressLine1"] = f"Unit {rng.randint(1, 30)}, {rng.randint(1, 400)} Main Road"
    if seq % 25 == 24:
        data["ContactStatus"] = "ARCHIVED"
    return data


def _gdpr_erased(data: dict[str, Any]) -> dict[str, Any]:
    erased = dict(data)
    erased.update(
        ContactStatus="GDPRREQUEST",
        Name=f"Deleted contact {data['ContactID'][:8]}",
        FirstName="",
        LastName="",
        EmailAddress="",
        Addresses=_empty_addresses(),
        Phones=_empty_phones(),
        ContactPersons=[],
        TaxNumber="",
    )
    return erased


_UNPAGED_LEAVES_OUT = (
    "ContactPersons",
    "PaymentTerms",
    "MergedToContactID",
    "SalesDefaultLineAmountType",
    "PurchasesDefaultLineAmountType",
)
_SUMMARY_LEAVES_OUT = ("Balances", "ContactPersons", "PaymentTerms", "BatchPayments", "Discount", "ContactGroups")


# ---------------------------------------------------------------------------------------------
# The fake


class XeroFake:
    """A local Xero; serve `fake.app` with `ServerThread`, drive it with the methods below."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        limits: XeroLimits | None = None,
        latency: float = 0.0,
        access_token_ttl: int = 1800,
        grace_period: float = 1800,
        high_volume_threshold: int = 100_000,
        user_name: str = "Demo User",
        user_email: str = "demo.user@example.com",
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.limits = limits or XeroLimits()
        self.latency = latency
        self.access_token_ttl = access_token_ttl
        self.grace_period = grace_period
        self.high_volume_threshold = high_volume_threshold
        self.seed = seed
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://xero.fake/{seed}")
        self._org_seq = itertools.count(1)
        self._lock = threading.RLock()
        self._signing_key = secrets.token_bytes(32)
        self.user = XeroUser(str(uuid.uuid5(self._namespace, "user")), user_name, user_email)
        self._clients: dict[str, XeroClientApp] = {}
        self._organisations: dict[str, _Organisation] = {}
        self._connections: dict[str, _Connection] = {}
        self._pending: dict[str, _PendingConsent] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._issued_access: set[str] = set()  # jti of every access token issued
        self._app_minute: dict[str, deque[float]] = {}
        self._failures: list[_FailureRule] = []
        self.calls: list[Call] = []
        self.refreshes_spent: Counter[str] = Counter()  # refresh token -> successful refresh grants
        self.revoked: list[str] = []  # refresh tokens revoked through /connect/revocation
        self._router = Starlette(
            routes=[
                Route("/identity/connect/authorize", self._authorize, methods=["GET", "POST"]),
                Route("/connect/token", self._token, methods=["POST"]),
                Route("/connect/revocation", self._revocation, methods=["POST"]),
                Route("/connections", self._list_connections, methods=["GET"]),
                Route("/connections/{connection_id}", self._delete_connection, methods=["DELETE"]),
                Route(f"{ACCOUNTING_PREFIX}/accounts", self._get_accounts, methods=["GET"]),
                Route(f"{ACCOUNTING_PREFIX}/contacts", self._get_contacts, methods=["GET"]),
                Route(f"{ACCOUNTING_PREFIX}/{{rest:path}}", self._not_found, methods=["GET", "POST", "PUT"]),
            ]
        )

    # -- test controls: apps, organisations, contacts, accounts ------------------------------

    def register_client(
        self,
        *,
        redirect_uris: Iterable[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        public: bool = False,
        name: str = "accounts-bot",
    ) -> XeroClientApp:
        """Register an app; `public=True` makes an "Auth Code with PKCE" app (no secret)."""
        client = XeroClientApp(
            client_id=client_id or secrets.token_hex(16).upper(),
            client_secret=None if public else (client_secret or secrets.token_urlsafe(36)),
            redirect_uris=tuple(redirect_uris),
            name=name,
        )
        with self._lock:
            self._clients[client.client_id] = client
        return client

    def add_organisation(
        self,
        name: str,
        tenant_type: str = "ORGANISATION",
        *,
        chart: bool = True,
        high_volume_threshold: int | None = None,
    ) -> str:
        """A tenant the demo user may authorise, with Xero's default chart unless `chart=False`."""
        with self._lock:
            tenant_id = str(uuid.uuid5(self._namespace, f"organisation-{next(self._org_seq)}"))
            self._organisations[tenant_id] = _Organisation(tenant_id, name, tenant_type, high_volume_threshold)
            if chart:
                for code, account_name, account_type, tax_type, extra in DEFAULT_CHART:
                    self._add_account(tenant_id, code, account_name, account_type, tax_type, extra)
            return tenant_id

    def seed_contacts(self, tenant_id: str, n: int, *, updated_at: float | None = None) -> list[str]:
        """Add `n` varied contacts (deterministic for the fake's `seed`); returns their ContactIDs.

        Some have no email, phone or address, some are suppliers only or neither, one in 25 is
        archived, one in 40 has Slack markup in its name. `updated_at` (epoch seconds) pins their
        UpdatedDateUTC; by default it is spread over the three years before the clock's now.
        """
        with self._lock:
            org = self._org(tenant_id)
            now = self.clock()
            ids = []
            for _ in range(n):
                org.contact_seq += 1
                seq = org.contact_seq
                contact_id = str(uuid.uuid5(uuid.UUID(tenant_id), f"contact-{seq}"))
                rng = random.Random(f"{self.seed}/{tenant_id}/{seq}")
                data = _generated_contact(rng, seq, contact_id)
                stamp = updated_at if updated_at is not None else now - rng.uniform(86400, 3 * 365 * 86400)
                org.contacts[contact_id] = _Contact(data, stamp)
                ids.append(contact_id)
            return ids

    def add_contact(self, tenant_id: str, name: str, **fields: Any) -> str:
        """Add one contact with Xero's field names (`EmailAddress=...`, `IsCustomer=True`, ...)."""
        with self._lock:
            org = self._org(tenant_id)
            org.contact_seq += 1
            contact_id = str(uuid.uuid5(uuid.UUID(tenant_id), f"contact-{org.contact_seq}"))
            data: dict[str, Any] = {
                "ContactID": contact_id,
                "ContactStatus": "ACTIVE",
                "Name": name,
                "EmailAddress": "",
                "Addresses": _empty_addresses(),
                "Phones": _empty_phones(),
                "ContactGroups": [],
                "IsSupplier": False,
                "IsCustomer": False,
                "ContactPersons": [],
                "HasAttachments": False,
                "HasValidationErrors": False,
            }
            data.update(fields)
            org.contacts[contact_id] = _Contact(data, self.clock())
            return contact_id

    def update_contact(self, tenant_id: str, contact_id: str, **fields: Any) -> None:
        """Change fields; bumps UpdatedDateUTC unless only IsCustomer, IsSupplier or Balances changed."""
        with self._lock:
            contact = self._contact(tenant_id, contact_id)
            contact.data.update(fields)
            if set(fields) - {"IsCustomer", "IsSupplier", "Balances"}:
                contact.updated_at = self.clock()

    def archive_contact(self, tenant_id: str, contact_id: str) -> None:
        self.update_contact(tenant_id, contact_id, ContactStatus="ARCHIVED")

    def merge_contacts(self, tenant_id: str, source_id: str, into_id: str) -> None:
        """Merge `source_id` into `into_id`: the source is archived and points at the destination."""
        with self._lock:
            self._contact(tenant_id, into_id)
            self.update_contact(tenant_id, source_id, ContactStatus="ARCHIVED", MergedToContactID=into_id)

    def gdpr_erase(self, tenant_id: str, contact_id: str) -> None:
        """A GDPR request: status GDPRREQUEST and the personal data removed."""
        with self._lock:
            contact = self._contact(tenant_id, contact_id)
            contact.data = _gdpr_erased(contact.data)
            contact.updated_at = self.clock()

    def contact(self, tenant_id: str, contact_id: str) -> dict[str, Any]:
        with self._lock:
            return self._render_contact(self._contact(tenant_id, contact_id))

    def contact_ids(self, tenant_id: str) -> list[str]:
        with self._lock:
            return list(self._org(tenant_id).contacts)

    def seed_accounts(self, tenant_id: str, n: int) -> list[str]:
        """Add `n` generated accounts of varied types (some BANK without a code, some archived)."""
        kinds = ("SALES", "REVENUE", "OVERHEADS", "EXPENSE", "DIRECTCOSTS", "BANK", "OTHERINCOME", "CURRENT")
        with self._lock:
            org = self._org(tenant_id)
            ids = []
            for i in range(n):
                account_type = kinds[i % len(kinds)]
                number = 5000 + org.account_seq
                code = None if account_type == "BANK" and i % 2 else str(number)
                extra = {"Status": "ARCHIVED"} if i % 11 == 10 else {}
                ids.append(
                    self._add_account(
                        tenant_id, code, f"Generated {account_type.title()} {number}", account_type, "NONE", extra
                    )
                )
            return ids

    def update_account(self, tenant_id: str, account_id: str, **fields: Any) -> None:
        with self._lock:
            account = self._org(tenant_id).accounts[account_id]
            account.data.update(fields)
            account.updated_at = self.clock()

    def archive_account(self, tenant_id: str, account_id: str) -> None:
        self.update_account(tenant_id, account_id, Status="ARCHIVED")

    def accounts(self, tenant_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_account(a) for a in self._org(tenant_id).accounts.values()]

    # -- test controls: failures, connections, inspection -------------------------------------

    def fail_next(
        self,
        path_substring: str,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests whose path contains `path_substring` (any case) with `status`.

        `body` defaults to Xero's body for that status (a dict is sent as JSON, a str as text);
        a 429 gets `Retry-After: 30` and `X-Rate-Limit-Problem: minute` unless `headers` says otherwise.
        """
        extra = dict(headers or {})
        if status == 429:
            extra = {"Retry-After": "30", "X-Rate-Limit-Problem": "minute", **extra}
        rule = _FailureRule(
            path_substring.lower(), status, _default_error_body(status) if body is None else body, extra, times
        )
        with self._lock:
            self._failures.append(rule)

    def remove_connection(self, connection_id: str) -> None:
        """The user disconnected the app from Xero's side."""
        with self._lock:
            self._connections.pop(connection_id, None)

    @property
    def connections(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_connection(c) for c in self._connections.values()]

    def calls_to(self, path_substring: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path_substring.lower() in c.path.lower()]

    def in_window(self, tenant_id: str, seconds: float = 60.0) -> int:
        """How many calls the organisation's rolling window holds now (for rate-limit tests)."""
        with self._lock:
            now = self.clock()
            return sum(1 for t in self._org(tenant_id).minute if t > now - seconds)

    def access_token_claims(self, access_token: str) -> dict[str, Any]:
        claims = self._verify_jwt(access_token)
        if claims is None:
            raise ValueError("not an access token issued by this fake")
        return claims

    # -- the ASGI app ------------------------------------------------------------------------

    @property
    def app(self) -> XeroFake:
        """The ASGI app to serve (the fake itself; uvicorn needs a callable object, not a method)."""
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Xero's paths are case-insensitive: route on the lower-cased path, record the original."""
        if scope["type"] != "http":
            await self._router(scope, receive, send)
            return
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        for secret in ("authorization", "cookie"):
            if secret in headers:
                headers[secret] = headers[secret].split(" ")[0] + " <redacted>"
        call = Call(
            method=scope["method"],
            path=path,
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)),
            headers=headers,
            at=self.clock(),
        )
        with self._lock:
            self.calls.append(call)
            rule = next((r for r in self._failures if r.path_substring in path.lower()), None)
            if rule:
                rule.times -= 1
                if rule.times <= 0:
                    self._failures.remove(rule)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                call.status = message["status"]
            await send(message)

        if not path.lower().startswith(ACCOUNTING_PREFIX) and self.latency:
            await asyncio.sleep(self.latency)
        if rule:
            await _body_response(rule.status, rule.body, rule.headers)(scope, receive, recording_send)
            return
        lowered = dict(scope, path=path.lower(), raw_path=path.lower().encode())
        await self._router(lowered, receive, recording_send)

    # -- OAuth: consent page ------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._consent_answer(request)
        q = request.query_params
        client = self._clients.get(q.get("client_id", ""))
        if client is None:
            return self._error_page("unauthorized_client", "Unknown client or client not enabled.")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return self._error_page("invalid_request", "Invalid redirect_uri.")
        state = q.get("state")
        if q.get("response_type") != "code":
            return _redirect_with(redirect_uri, error="unsupported_response_type", state=state)
        scopes = q.get("scope", "").split()
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return _redirect_with(redirect_uri, error="invalid_scope", state=state)
        challenge = q.get("code_challenge")
        if challenge and q.get("code_challenge_method", "plain") != "S256":
            return _redirect_with(redirect_uri, error="invalid_request", state=state)
        if client.client_secret is None and not challenge:
            return _redirect_with(redirect_uri, error="invalid_request", state=state)
        pending = _PendingConsent(secrets.token_urlsafe(16), client, redirect_uri, " ".join(scopes), state, challenge)
        with self._lock:
            self._pending[pending.id] = pending
        return HTMLResponse(self._consent_page(pending))

    async def _consent_answer(self, request: Request) -> Response:
        form = await request.form()
        with self._lock:
            pending = self._pending.get(str(form.get("consent_id", "")))
        if pending is None:
            return self._error_page("invalid_request", "This sign-in request has expired. Start again from the app.")
        if form.get("action") != "allow":
            with self._lock:
                self._pending.pop(pending.id, None)
            return _redirect_with(pending.redirect_uri, error="access_denied", state=pending.state)
        chosen = [str(t) for t in form.getlist("tenant")]
        with self._lock:
            chosen = [t for t in chosen if t in self._organisations]
            if not chosen and any(s.startswith("accounting.") for s in pending.scope.split()):
                return HTMLResponse(self._consent_page(pending, error="Select at least one organisation."))
            self._pending.pop(pending.id, None)
            now = self.clock()
            auth_event_id = str(uuid.uuid4())
            for tenant_id in chosen:
                existing = next(
                    (
                        c
                        for c in self._connections.values()
                        if (c.user_id, c.client_id, c.tenant_id)
                        == (self.user.user_id, pending.client.client_id, tenant_id)
                    ),
                    None,
                )
                if existing:
                    existing.auth_event_id, existing.updated_at = auth_event_id, now
                else:
                    conn = _Connection(
                        str(uuid.uuid4()),
                        self.user.user_id,
                        pending.client.client_id,
                        tenant_id,
                        auth_event_id,
                        now,
                        now,
                    )
                    self._connections[conn.id] = conn
            code = secrets.token_urlsafe(32)
            self._codes[code] = _AuthCode(
                client_id=pending.client.client_id,
                redirect_uri=pending.redirect_uri,
                scope=pending.scope,
                user_id=self.user.user_id,
                auth_event_id=auth_event_id,
                code_challenge=pending.code_challenge,
                expires_at=now + CODE_LIFETIME,
            )
        return _redirect_with(
            pending.redirect_uri,
            code=code,
            scope=pending.scope,
            state=pending.state,
            session_state=secrets.token_hex(8),
        )

    def _consent_page(self, pending: _PendingConsent, *, error: str | None = None) -> str:
        e = html.escape
        organisations = sorted(self._organisations.values(), key=lambda o: o.name.casefold())
        boxes = "\n".join(
            f'<li><label><input type="checkbox" name="tenant" value="{e(o.tenant_id)}" checked> '
            f"{e(o.name)}{' (practice)' if o.tenant_type == 'PRACTICE' else ''}</label></li>"
            for o in organisations
        )
        permissions = "\n".join(f"<li>{e(SCOPE_WORDING[s])}</li>" for s in pending.scope.split() if s in SCOPE_WORDING)
        problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
        return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Xero | Authorise {e(pending.client.name)}</title></head>
<body>
<header><p class="login">Logged in as {e(self.user.name)} ({e(self.user.email)}) · <a href="#">Not you?</a></p></header>
<main>
<h1>{e(pending.client.name)} wants to access your Xero organisations</h1>
<p>{e(pending.client.name)} will be able to:</p>
<ul class="permissions">
{permissions}
</ul>
<form method="post" action="/identity/connect/authorize">
<input type="hidden" name="consent_id" value="{e(pending.id)}">
<fieldset><legend>Choose the organisations to connect</legend>
{problem}
<ul class="organisations">
{boxes}
</ul>
</fieldset>
<button type="submit" name="action" value="allow">Allow access</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>
</main>
</body>
</html>"""

    @staticmethod
    def _error_page(error: str, message: str) -> HTMLResponse:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Xero | Error</title></head>'
            f"<body><h1>Sorry, something went wrong</h1><p>{html.escape(message)}</p>"
            f'<p class="error-code">Error: {html.escape(error)}</p></body></html>'
        )
        return HTMLResponse(body, status_code=400)

    # -- OAuth: token and revocation endpoints -------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client, failure = self._authenticate_client(request, form)
        if failure:
            return failure
        assert client is not None
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return self._code_grant(client, form)
            if grant_type == "refresh_token":
                return self._refresh_grant(client, form)
        return _oauth_error("unsupported_grant_type")

    def _authenticate_client(
        self, request: Request, form: dict[str, str]
    ) -> tuple[XeroClientApp | None, Response | None]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None, _oauth_error("invalid_client", 401)
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self._clients.get(client_id)
        if client is None:
            return None, _oauth_error("invalid_client", 401)
        if client.client_secret is None:  # a PKCE app: no secret, proves itself with the verifier
            return client, None
        if not secret or not hmac.compare_digest(secret, client.client_secret):
            return None, _oauth_error("invalid_client", 401)
        return client, None

    def _code_grant(self, client: XeroClientApp, form: dict[str, str]) -> Response:
        code = self._codes.get(form.get("code", ""))
        now = self.clock()
        if code is None or code.used or code.expires_at < now or code.client_id != client.client_id:
            return _oauth_error("invalid_grant")
        code.used = True  # single use, even when what follows fails
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant")
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(_s256(verifier), code.code_challenge):
                return _oauth_error("invalid_grant")
        return JSONResponse(self._issue(client, code.user_id, code.auth_event_id, code.scope, family=None))

    def _refresh_grant(self, client: XeroClientApp, form: dict[str, str]) -> Response:
        value = form.get("refresh_token", "")
        token = self._refresh_tokens.get(value)
        now = self.clock()
        if (
            token is None
            or token.revoked
            or token.client_id != client.client_id
            or now > token.issued_at + REFRESH_TOKEN_LIFETIME
        ):
            return _oauth_error("invalid_grant")
        if token.spent_at is not None:
            # rotated already: Xero hands the same new pair back during the grace period
            if now - token.spent_at > self.grace_period or token.successor is None:
                return _oauth_error("invalid_grant")
            self.refreshes_spent[value] += 1
            return JSONResponse(token.successor)
        response = self._issue(client, token.user_id, token.auth_event_id, token.scope, family=token.family)
        token.spent_at, token.successor = now, response
        self.refreshes_spent[value] += 1
        return JSONResponse(response)

    def _issue(
        self, client: XeroClientApp, user_id: str, auth_event_id: str, scope: str, *, family: str | None
    ) -> dict[str, Any]:
        now = int(self.clock())
        jti = secrets.token_hex(16)
        claims = {
            "nbf": now,
            "exp": now + self.access_token_ttl,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": client.client_id,
            "sub": hashlib.sha256(user_id.encode()).hexdigest()[:32],
            "auth_time": now,
            "xero_userid": user_id,
            "global_session_id": hashlib.sha256(auth_event_id.encode()).hexdigest()[:32],
            "sid": hashlib.sha256(auth_event_id.encode()).hexdigest()[32:64],
            "jti": jti,
            "authentication_event_id": auth_event_id,
            "scope": scope.split(),
            "amr": ["pwd"],
        }
        self._issued_access.add(jti)
        response: dict[str, Any] = {
            "access_token": self._jwt(claims),
            "expires_in": self.access_token_ttl,
            "token_type": "Bearer",
            "scope": scope,
        }
        if "offline_access" in scope.split():
            value = secrets.token_hex(32)
            self._refresh_tokens[value] = _RefreshToken(
                value, family or value, client.client_id, user_id, auth_event_id, scope, self.clock()
            )
            response["refresh_token"] = value
        if "openid" in scope.split():
            id_claims = {
                "nbf": now,
                "exp": now + 300,
                "iss": "https://identity.xero.com",
                "aud": client.client_id,
                "sub": claims["sub"],
                "auth_time": now,
                "xero_userid": user_id,
                "global_session_id": claims["global_session_id"],
                "email": self.user.email,
                "given_name": self.user.name.split()[0],
                "family_name": self.user.name.split()[-1],
            }
            response = {"id_token": self._jwt(id_claims), **response}
        return response

    async def _revocation(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client, failure = self._authenticate_client(request, form)
        if failure:
            return failure
        assert client is not None
        with self._lock:
            token = self._refresh_tokens.get(form.get("token", ""))
            if token is not None and token.client_id == client.client_id:
                for other in self._refresh_tokens.values():
                    if other.family == token.family:
                        other.revoked = True
                self.revoked.append(token.value)
                for conn_id, conn in list(self._connections.items()):
                    if (conn.user_id, conn.client_id) == (token.user_id, client.client_id):
                        del self._connections[conn_id]
        return Response(status_code=200)

    # -- JWTs ----------------------------------------------------------------------------------

    def _jwt(self, claims: dict[str, Any]) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def _verify_jwt(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._signing_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_b64url_decode(parts[2]), expected):
                return None
            claims: dict[str, Any] = json.loads(_b64url_decode(parts[1]))
        except ValueError:
            return None
        return claims if claims.get("jti") in self._issued_access else None

    def _bearer(self, request: Request) -> dict[str, Any]:
        """The claims of a valid, unexpired bearer token, or a 401 reply."""
        header = request.headers.get("authorization", "")
        claims = self._verify_jwt(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if claims is None:
            raise _Reply(self._unauthorized("AuthenticationUnsuccessful"))
        if self.clock() >= claims["exp"]:
            expired = datetime.fromtimestamp(claims["exp"], UTC).strftime("%m/%d/%Y %H:%M:%S")
            raise _Reply(self._unauthorized(f"TokenExpired: token expired at {expired}"))
        return claims

    @staticmethod
    def _unauthorized(detail: str) -> Response:
        return JSONResponse(
            _problem(401, "Unauthorized", detail),
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    # -- /connections ----------------------------------------------------------------------------

    def _render_connection(self, c: _Connection) -> dict[str, Any]:
        org = self._organisations[c.tenant_id]
        return {
            "id": c.id,
            "authEventId": c.auth_event_id,
            "tenantId": c.tenant_id,
            "tenantType": org.tenant_type,
            "tenantName": org.name,
            "createdDateUtc": _connection_date(c.created_at),
            "updatedDateUtc": _connection_date(c.updated_at),
        }

    def _reachable(self, claims: dict[str, Any]) -> list[_Connection]:
        key = (claims["xero_userid"], claims["client_id"])
        return [c for c in self._connections.values() if (c.user_id, c.client_id) == key]

    async def _list_connections(self, request: Request) -> Response:
        try:
            claims = self._bearer(request)
        except _Reply as reply:
            return reply.response
        auth_event_id = request.query_params.get("authEventId")
        with self._lock:
            reachable = sorted(self._reachable(claims), key=lambda c: c.created_at)
            rows = [self._render_connection(c) for c in reachable if auth_event_id in (None, c.auth_event_id)]
        return JSONResponse(rows)

    async def _delete_connection(self, request: Request) -> Response:
        try:
            claims = self._bearer(request)
        except _Reply as reply:
            return reply.response
        connection_id = request.path_params["connection_id"]
        with self._lock:
            if not any(c.id == connection_id for c in self._reachable(claims)):
                return JSONResponse(_problem(404, "Not Found", "Resource not found"), status_code=404)
            del self._connections[connection_id]
        return Response(status_code=204)

    # -- Accounting API --------------------------------------------------------------------------

    async def _get_accounts(self, request: Request) -> Response:
        return await self._accounting(request, "accounts", self._accounts_body)

    async def _get_contacts(self, request: Request) -> Response:
        return await self._accounting(request, "contacts", self._contacts_body)

    async def _not_found(self, request: Request) -> Response:
        return PlainTextResponse("The resource you're looking for cannot be found", status_code=404)

    async def _accounting(
        self, request: Request, resource: str, body: Callable[[_Organisation, Request], dict[str, Any]]
    ) -> Response:
        try:
            claims = self._bearer(request)
            with self._lock:
                org, client_id = self._tenant(request, claims, resource)
                remaining = self._admit(org, client_id)
        except _Reply as reply:
            return reply.response
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            with self._lock:
                try:
                    payload = body(org, request)
                except QueryError as exc:
                    return JSONResponse(_query_parse_exception(str(exc)), status_code=400, headers=remaining)
                except _Reply as reply:
                    reply.response.headers.update(remaining)
                    return reply.response
                envelope = {
                    "Id": str(uuid.uuid4()),
                    "Status": "OK",
                    "ProviderName": self._clients[client_id].name,
                    "DateTimeUTC": ms_date(self.clock(), zone=False),
                    **payload,
                }
            return JSONResponse(envelope, headers=remaining)
        finally:
            with self._lock:
                org.in_flight -= 1

    def _tenant(self, request: Request, claims: dict[str, Any], resource: str) -> tuple[_Organisation, str]:
        tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
        connected = {c.tenant_id for c in self._reachable(claims)}
        if tenant_id not in connected or tenant_id not in self._organisations:
            raise _Reply(JSONResponse(_problem(403, "Forbidden", "AuthenticationUnsuccessful"), status_code=403))
        if not set(RESOURCE_SCOPES[resource]) & set(claims.get("scope", [])):
            raise _Reply(JSONResponse(_problem(403, "Forbidden", "AuthorizationUnsuccessful"), status_code=403))
        return self._organisations[tenant_id], str(claims["client_id"])

    def _admit(self, org: _Organisation, client_id: str) -> dict[str, str]:
        """Count the call against the limits, or reply 429 naming the limit and how long to wait."""
        now, limits = self.clock(), self.limits
        app = self._app_minute.setdefault(client_id, deque())
        for window, span in ((org.minute, 60.0), (org.day, 86400.0), (app, 60.0)):
            while window and window[0] <= now - span:
                window.popleft()

        def remaining() -> dict[str, str]:
            return {
                "X-DayLimit-Remaining": str(max(0, limits.per_day - len(org.day))),
                "X-MinLimit-Remaining": str(max(0, limits.per_minute - len(org.minute))),
                "X-AppMinLimit-Remaining": str(max(0, limits.app_per_minute - len(app))),
            }

        problem, wait = None, 0.0
        if len(org.day) >= limits.per_day:
            problem, wait = "day", org.day[0] + 86400 - now
        elif len(app) >= limits.app_per_minute:
            problem, wait = "appminute", app[0] + 60 - now
        elif len(org.minute) >= limits.per_minute:
            problem, wait = "minute", org.minute[0] + 60 - now
        elif org.in_flight >= limits.concurrent:
            problem, wait = "concurrent", 1
        if problem:
            headers = {"Retry-After": str(max(1, math.ceil(wait))), "X-Rate-Limit-Problem": problem, **remaining()}
            body = _problem(429, "Too Many Requests", "Rate limit exceeded")
            raise _Reply(JSONResponse(body, status_code=429, headers=headers))
        for window in (org.minute, org.day, app):
            window.append(now)
        org.in_flight += 1
        return remaining()

    def _accounts_body(self, org: _Organisation, request: Request) -> dict[str, Any]:
        q = request.query_params
        since = _parse_if_modified_since(request.headers.get("if-modified-since"))
        rows = [self._render_account(a) for a in org.accounts.values() if since is None or a.updated_at > since]
        if where := q.get("where"):
            predicate, _ = parse_where(where)
            rows = [r for r in rows if predicate(r)]
        _sort(rows, q.get("order"), [])
        return {"Accounts": rows}

    def _contacts_body(self, org: _Organisation, request: Request) -> dict[str, Any]:
        q = request.query_params
        since = _parse_if_modified_since(request.headers.get("if-modified-since"))
        include_archived = q.get("includeArchived", "").lower() == "true"
        summary_only = q.get("summaryOnly", "").lower() == "true"
        ids = {i.strip().lower() for i in q.get("IDs", "").split(",") if i.strip()}
        page = _int_param(q.get("page"), "page")
        page_size = _int_param(q.get("pageSize"), "pageSize")
        if page_size is not None and page_size < 1:
            raise _Reply(JSONResponse(_validation_exception("pageSize must be a positive number"), status_code=400))
        predicate = None
        if where := q.get("where"):
            predicate, fields = parse_where(where)
            threshold = org.high_volume_threshold or self.high_volume_threshold
            if fields - INDEXED_CONTACT_FIELDS and len(org.contacts) > threshold:
                raise _Reply(JSONResponse(_high_volume_exception(), status_code=400))
        term = (q.get("searchTerm") or "").casefold()
        rows = []
        for contact in org.contacts.values():
            data = contact.data
            if since is not None and contact.updated_at <= since:
                continue
            if data.get("ContactStatus") == "ARCHIVED" and not include_archived and not ids:
                continue
            if ids and data["ContactID"] not in ids:
                continue
            if term and not any(
                term in str(data.get(f) or "").casefold()
                for f in ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
            ):
                continue
            row = self._render_contact(contact)
            if predicate is None or predicate(row):
                rows.append(row)
        _sort(rows, q.get("order"), [("Name", False), ("ContactID", False)])
        paged = page is not None
        for row in rows:
            for name in (_SUMMARY_LEAVES_OUT if summary_only else ()) + (() if paged else _UNPAGED_LEAVES_OUT):
                row.pop(name, None)
        if not paged:
            return {"Contacts": rows}
        assert page is not None
        size = min(page_size or 100, 1000)
        page = max(page, 1)
        pagination = {
            "page": page,
            "pageSize": size,
            "pageCount": math.ceil(len(rows) / size),
            "itemCount": len(rows),
        }
        return {"pagination": pagination, "Contacts": rows[(page - 1) * size : page * size]}

    # -- rendering and lookups -------------------------------------------------------------------

    def _render_contact(self, contact: _Contact) -> dict[str, Any]:
        row = json.loads(json.dumps(contact.data))  # a deep copy the caller may change
        row["UpdatedDateUTC"] = ms_date(contact.updated_at)
        return row

    def _render_account(self, account: _Account) -> dict[str, Any]:
        row = dict(account.data)
        row["UpdatedDateUTC"] = ms_date(account.updated_at)
        return row

    def _add_account(
        self,
        tenant_id: str,
        code: str | None,
        name: str,
        account_type: str,
        tax_type: str,
        extra: dict[str, Any],
    ) -> str:
        org = self._org(tenant_id)
        org.account_seq += 1
        account_id = str(uuid.uuid5(uuid.UUID(tenant_id), f"account-{org.account_seq}"))
        data: dict[str, Any] = {"AccountID": account_id}
        if code is not None:
            data["Code"] = code
        data.update(
            Name=name,
            Status="ACTIVE",
            Type=account_type,
            TaxType=tax_type,
            Class=_CLASS_OF_TYPE[account_type],
            EnablePaymentsToAccount=False,
            ShowInExpenseClaims=_CLASS_OF_TYPE[account_type] == "EXPENSE",
            BankAccountType="BANK" if account_type == "BANK" else "",
            ReportingCode=_CLASS_OF_TYPE[account_type][:3],
            ReportingCodeName=_CLASS_OF_TYPE[account_type].title(),
            HasAttachments=False,
            AddToWatchlist=account_type == "BANK",
        )
        if account_type == "BANK":
            data["CurrencyCode"] = "NZD"
        data.update(extra)
        org.accounts[account_id] = _Account(data, self.clock() - 400 * 86400)
        return account_id

    def _org(self, tenant_id: str) -> _Organisation:
        try:
            return self._organisations[tenant_id]
        except KeyError:
            raise KeyError(f"no organisation {tenant_id} in this fake") from None

    def _contact(self, tenant_id: str, contact_id: str) -> _Contact:
        try:
            return self._org(tenant_id).contacts[contact_id]
        except KeyError:
            raise KeyError(f"no contact {contact_id} in organisation {tenant_id}") from None


def _int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise _Reply(
            JSONResponse(_validation_exception(f"The value '{value}' is not valid for {name}."), status_code=400)
        ) from None


def _high_volume_exception() -> dict[str, Any]:
    return {
        "ErrorNumber": 51,
        "Type": "HighVolumeException",
        "Message": (
            "This organisation has too many contacts for this filter. Filter on Name, EmailAddress or "
            "AccountNumber, or page through the contacts without a filter."
        ),
    }


def _oauth_error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _redirect_with(redirect_uri: str, **params: str | None) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)


# ---------------------------------------------------------------------------------------------
# Driving the consent page like a browser


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.checkboxes: list[tuple[str, str, bool]] = []
        self.buttons: dict[str, tuple[str, str]] = {}
        self._button: tuple[str, str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "input" and a.get("type") == "checkbox":
            self.checkboxes.append((a["name"], a.get("value", ""), "checked" in a))
        elif tag == "button":
            self._button = (a.get("name", ""), a.get("value", ""))

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._button and data.strip():
            self.buttons[data.strip()] = self._button
            self._button = None


def click_through_consent(
    http: httpx2.Client,
    authorize_url: str,
    *,
    organisations: Iterable[str] | None = None,
    button: str = "Allow access",
) -> httpx2.Response:
    """Open the consent page, tick `organisations` (tenant ids; default: leave the pre-checked ones)
    and press `button`; returns the form's answer (a 302 to the redirect URI, or a page)."""
    page = http.get(authorize_url)
    if page.status_code != 200:
        return page
    reader = _FormReader()
    reader.feed(page.text)
    if reader.action is None:
        raise AssertionError("the consent page has no form")
    wanted = None if organisations is None else set(organisations)
    data = list(reader.fields)
    data += [(n, v) for n, v, checked in reader.checkboxes if (checked if wanted is None else v in wanted)]
    data.append(reader.buttons[button])
    return http.post(
        urljoin(str(page.url), reader.action),
        content=urlencode(data).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def redirect_params(response: httpx2.Response) -> dict[str, str]:
    """The query parameters of a redirect's Location (`code`, `state`, `error`, ...)."""
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))


# ---------------------------------------------------------------------------------------------
# python -m tests.fakes.xero --port N


def demo_fake(public_url: str | None = None) -> tuple[XeroFake, XeroClientApp]:
    """A fake with two demo organisations and the demo app registered for the bot's callback."""
    public_url = (public_url or os.environ.get("PUBLIC_URL") or "http://localhost:3000").rstrip("/")
    fake = XeroFake()
    nz = fake.add_organisation("Demo Company (NZ)")
    fake.seed_contacts(nz, 250)
    au = fake.add_organisation("Demo Company (AU)")
    fake.seed_contacts(au, 40)
    callbacks = {f"{public_url}/oauth/xero/callback", "http://localhost:3000/oauth/xero/callback"}
    client = fake.register_client(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        redirect_uris=sorted(callbacks),
        name="accounts-bot (local)",
    )
    return fake, client


def _main() -> None:
    made: dict[str, Any] = {}

    def make_app(url: str) -> Any:
        fake, client = demo_fake()
        made.update(fake=fake, client=client)
        return fake.app

    def describe(url: str) -> str:
        client: XeroClientApp = made["client"]
        lines = [
            f"XERO_AUTHORIZE_URL={url}/identity/connect/authorize",
            f"XERO_TOKEN_URL={url}/connect/token",
            f"XERO_REVOKE_URL={url}/connect/revocation",
            f"XERO_CONNECTIONS_URL={url}/connections",
            f"XERO_API_URL={url}{ACCOUNTING_PREFIX}",
            f"XERO_CLIENT_ID={client.client_id}",
            f"XERO_CLIENT_SECRET={client.client_secret}",
        ]
        redirects = ", ".join(client.redirect_uris)
        return "\n".join(
            [
                "Point the bot at it with these settings (in .env or the environment):",
                *lines,
                "",
                f"Redirect URIs: {redirects}",
            ]
        )

    serve_main("xero", make_app, describe)


if __name__ == "__main__":
    _main()
