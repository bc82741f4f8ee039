"""The Xero fake's settings and in-memory state (apps, organisations, connections, codes and tokens, calls),
with the lookups and renderings its parts share."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from tests.fakes.xero.dates import ms_date
from tests.fakes.xero.rate_limits import XeroLimits
from tests.fakes.xero.records import (
    Call,
    XeroClientApp,
    XeroUser,
    _Account,
    _AuthCode,
    _Connection,
    _Contact,
    _FailureRule,
    _Organisation,
    _PendingConsent,
    _RefreshToken,
)
from tests.fakes.xero.seed import _CLASS_OF_TYPE


class XeroState:
    """What every part of `XeroFake` works on, guarded by one lock."""

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
        self._holds: list[tuple[str, threading.Event]] = []
        self.calls: list[Call] = []
        self.refreshes_spent: Counter[str] = Counter()  # refresh token -> successful refresh grants
        self.revoked: list[str] = []  # refresh tokens revoked through /connect/revocation
        self._router = Starlette(routes=self._routes())

    def _routes(self) -> list[BaseRoute]:
        """The routes of Xero's hosts the fake serves; `XeroFake` lists them."""
        raise NotImplementedError

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
