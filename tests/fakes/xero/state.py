"""The Xero fake's settings and in-memory state (organisations, connections, calls, and the OAuth2 server that
keeps the apps, codes and tokens), with the lookups and renderings its parts share."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from tests.fakes.oauth2 import OAuth2Hooks, OAuth2Server, User
from tests.fakes.xero.dates import ms_date
from tests.fakes.xero.identity import XERO_IDENTITY
from tests.fakes.xero.rate_limits import XeroLimits
from tests.fakes.xero.records import Call, _Account, _Connection, _Contact, _FailureRule, _Organisation
from tests.fakes.xero.seed import _CLASS_OF_TYPE


class XeroState(OAuth2Hooks):
    """What every part of `XeroFake` works on, guarded by one lock (the OAuth2 server's too: a consent and the
    connections it makes change together). `Connections` answers the OAuth2 server's hooks."""

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
        self.high_volume_threshold = high_volume_threshold
        self.seed = seed
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://xero.fake/{seed}")
        self._org_seq = itertools.count(1)
        self._lock = threading.RLock()
        self.user = User(str(uuid.uuid5(self._namespace, "user")), user_name, user_email)
        profile = replace(XERO_IDENTITY, access_token_ttl=access_token_ttl, grace_period=grace_period)
        self.oauth = OAuth2Server(profile, user=self.user, hooks=self, clock=clock, lock=self._lock)
        self._organisations: dict[str, _Organisation] = {}
        self._connections: dict[str, _Connection] = {}
        self._app_minute: dict[str, deque[float]] = {}
        self._failures: list[_FailureRule] = []
        self._holds: list[tuple[str, dict[str, str], threading.Event]] = []  # the path's part, the query's
        self.calls: list[Call] = []
        self.arrived = threading.Condition()  # notified as each call is recorded (`wait_for_calls`)
        self._router = Starlette(routes=self._routes())

    @property
    def refreshes_spent(self) -> Counter[str]:
        """Refresh token -> successful refresh grants."""
        return self.oauth.refreshes_spent

    @property
    def revoked(self) -> list[str]:
        """Refresh tokens revoked through /connect/revocation."""
        return self.oauth.revoked

    def access_token_claims(self, access_token: str) -> dict[str, Any]:
        return self.oauth.access_token_claims(access_token)

    def _routes(self) -> list[BaseRoute]:
        """The routes of Xero's hosts the fake serves; `XeroFake` lists them."""
        raise NotImplementedError

    def _render_contact(self, contact: _Contact) -> dict[str, Any]:
        row = json.loads(json.dumps(contact.data))  # a deep copy the caller may change
        if not contact.raw or (isinstance(row, dict) and "UpdatedDateUTC" not in row):
            row["UpdatedDateUTC"] = ms_date(contact.updated_at)
        return row  # type: ignore[no-any-return]

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
