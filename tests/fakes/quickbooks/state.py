"""The QuickBooks fake's state (companies, our app's connections to them, calls, injected failures, and the
shared OAuth2 server that keeps apps, codes and tokens), what a test sets up in it, and how records are rendered."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.fakes.oauth2 import Authorisation, ClientApp, Consent, ConsentOption, OAuth2Hooks, OAuth2Server, User
from tests.fakes.quickbooks.faults import intuit_time, lower_case_fault
from tests.fakes.quickbooks.identity import INTUIT_OAUTH
from tests.fakes.quickbooks.records import Call, QuickBooksLimits, _Company, _FailureRule, _Record
from tests.fakes.quickbooks.seed import DEFAULT_CHART, classification, customer_defaults, generated_customer


class QuickBooksState(OAuth2Hooks):
    """What every part of `QuickBooksFake` works on, guarded by one lock (the OAuth2 server's too)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        limits: QuickBooksLimits | None = None,
        latency: float = 0.0,
        access_token_ttl: float = 3600.0,
        refresh_token_kept_for: float | None = None,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.limits = limits or QuickBooksLimits()
        self.latency = latency
        self.xml_throttle = False  # answer throttling as XML, as Intuit sometimes does whatever was asked for
        self.seed = seed
        self._lock = threading.RLock()
        self._realm_seq = itertools.count(1)
        self.user = User(f"intuit-user-{seed}", "Demo User", "demo.user@example.com")
        profile = replace(INTUIT_OAUTH, access_token_ttl=access_token_ttl)
        if refresh_token_kept_for is not None:
            profile = replace(profile, refresh_token_kept_for=refresh_token_kept_for)
        self.oauth = OAuth2Server(profile, user=self.user, hooks=self, clock=clock, lock=self._lock)
        self._companies: dict[str, _Company] = {}
        self.connections: dict[tuple[str, str], float] = {}  # (client id, realm id) -> when connected
        self._failures: list[_FailureRule] = []
        self.calls: list[Call] = []
        self.arrived = threading.Condition()  # notified as each call is recorded (`PackageDriver.wait_for_calls`)

    # -- the OAuth2 server's hooks --------------------------------------------------------------

    def consent_options(self, client: ClientApp) -> list[ConsentOption]:
        return [ConsentOption(c.realm_id, c.name, checked=i == 0) for i, c in enumerate(self._companies.values())]

    def authorise(self, consent: Consent) -> Authorisation:
        """One company per authorisation: the callback names it (`realmId`), and so do the tokens."""
        (realm_id,) = consent.chosen
        self.connections[(consent.client.client_id, realm_id)] = self.clock()
        return Authorisation(claims={"realmid": realm_id}, callback={"realmId": realm_id})

    def grant_revoked(self, client: ClientApp, authorisation: Authorisation) -> None:
        realm_id = str(authorisation.claims.get("realmid", ""))
        self.connections.pop((client.client_id, realm_id), None)

    def unauthorized(self, *, expired_at: float | None) -> Response:
        return JSONResponse(
            lower_case_fault(401, self.clock()),
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
        )

    # -- set-up -----------------------------------------------------------------------------------

    def register_client(
        self,
        *,
        redirect_uris: Iterable[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        name: str = "accounts-bot",
    ) -> ClientApp:
        return self.oauth.register_client(
            redirect_uris=redirect_uris, client_id=client_id, client_secret=client_secret, name=name
        )

    def add_company(self, name: str, *, chart: bool = True, numbered: bool = False, country: str = "US") -> str:
        """A company the demo user may authorise, with the default chart unless `chart=False`; `numbered` gives
        its accounts numbers (AcctNum), as a company that turned on account numbers has."""
        with self._lock:
            realm_id = str(9130_3552_8137_0000 + next(self._realm_seq) * 7919 + self.seed)
            company = _Company(realm_id, name, country)
            self._companies[realm_id] = company
            ids: dict[str, str] = {}
            if chart:
                for number, (account_name, account_type, sub_type, parent, active) in enumerate(DEFAULT_CHART):
                    acct_num = str(1000 + number * 10) if numbered and account_type != "Non-Posting" else None
                    ids[account_name] = self._add_account(
                        company, account_name, account_type, sub_type, ids.get(parent or ""), active, acct_num
                    )
            return realm_id

    def add_account(
        self,
        realm_id: str,
        name: str,
        account_type: str = "Income",
        *,
        sub_type: str = "ServiceFeeIncome",
        parent_id: str | None = None,
        acct_num: str | None = None,
    ) -> str:
        with self._lock:
            return self._add_account(self._company(realm_id), name, account_type, sub_type, parent_id, True, acct_num)

    def _add_account(
        self,
        company: _Company,
        name: str,
        account_type: str,
        sub_type: str,
        parent_id: str | None,
        active: bool,
        acct_num: str | None,
    ) -> str:
        data: dict[str, Any] = {"Name": name, "SubAccount": parent_id is not None}
        if parent_id is not None:
            data["ParentRef"] = {"value": parent_id}
        data["FullyQualifiedName"] = (
            f"{company.accounts[parent_id].data['Name']}:{name}" if parent_id is not None else name
        )
        data["Active"] = active
        if (kind := classification(account_type)) is not None:
            data["Classification"] = kind
        data.update(AccountType=account_type, AccountSubType=sub_type)
        if acct_num is not None:
            data["AcctNum"] = acct_num
        data.update(
            CurrentBalance=0,
            CurrentBalanceWithSubAccounts=0,
            CurrencyRef={"value": "USD", "name": "United States Dollar"},
            domain="QBO",
            sparse=False,
        )
        account_id = company.new_id()
        now = self.clock()
        company.accounts[account_id] = _Record(data, now - 400 * 86400, now - 400 * 86400)
        return account_id

    def seed_customers(self, realm_id: str, n: int, *, jobs: int = 0) -> list[str]:
        """Add `n` varied customers (deterministic for the fake's `seed`) and `jobs` jobs under the first of
        them; returns the customers' Ids (not the jobs')."""
        with self._lock:
            company, now = self._company(realm_id), self.clock()
            ids = []
            for _ in range(n):
                customer_id = company.new_id()
                rng = random.Random(f"{self.seed}/{realm_id}/{customer_id}")
                stamp = now - rng.uniform(86400, 3 * 365 * 86400)
                company.customers[customer_id] = _Record(generated_customer(rng, int(customer_id)), stamp, stamp)
                ids.append(customer_id)
            for number in range(jobs):
                self.add_job(realm_id, ids[0], f"Job {number + 1}")
            return ids

    def add_customer(self, realm_id: str, display_name: str, **fields: Any) -> str:
        """One active customer with Intuit's field names (`PrimaryEmailAddr={"Address": ...}`, ...)."""
        with self._lock:
            company = self._company(realm_id)
            customer_id = company.new_id()
            data = {"DisplayName": display_name, "PrintOnCheckName": display_name, "Active": True}
            data |= customer_defaults() | fields
            company.customers[customer_id] = _Record(data, self.clock(), self.clock())
            return customer_id

    def add_job(self, realm_id: str, parent_id: str, name: str) -> str:
        """A job (sub-customer) under `parent_id`."""
        with self._lock:
            parent = self._customer(realm_id, parent_id)
            display = str(parent.data["DisplayName"])
            return self.add_customer(
                realm_id,
                name,
                Job=True,
                BillWithParent=True,
                ParentRef={"value": parent_id},
                Level=1,
                FullyQualifiedName=f"{display}:{name}",
            )

    def update_customer(self, realm_id: str, customer_id: str, **fields: Any) -> None:
        with self._lock:
            record = self._customer(realm_id, customer_id)
            record.data.update(fields)
            record.updated_at, record.sync_token = self.clock(), record.sync_token + 1

    def deactivate_customer(self, realm_id: str, customer_id: str) -> None:
        """What "delete" does to a customer in QuickBooks: `Active: false`."""
        self.update_customer(realm_id, customer_id, Active=False)

    def delete_customer(self, realm_id: str, customer_id: str) -> None:
        """Remove a customer for good: queries no longer see it, change data capture reports it `Deleted`."""
        with self._lock:
            record = self._customer(realm_id, customer_id)
            record.deleted, record.updated_at = True, self.clock()

    def customer(self, realm_id: str, customer_id: str) -> dict[str, Any]:
        with self._lock:
            return self.render(self._customer(realm_id, customer_id), customer_id)

    def customer_ids(self, realm_id: str) -> list[str]:
        with self._lock:
            return [i for i, r in self._company(realm_id).customers.items() if not r.deleted]

    def accounts(self, realm_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self.render(r, i) for i, r in self._company(realm_id).accounts.items()]

    def update_account(self, realm_id: str, account_id: str, **fields: Any) -> None:
        with self._lock:
            record = self._company(realm_id).accounts[account_id]
            record.data.update(fields)
            record.updated_at, record.sync_token = self.clock(), record.sync_token + 1

    def company_name(self, realm_id: str) -> str:
        return self._company(realm_id).name

    def connected_realms(self) -> set[str]:
        with self._lock:
            return {realm for _, realm in self.connections}

    # -- shared by the API --------------------------------------------------------------------------

    def render(self, record: _Record, record_id: str) -> dict[str, Any]:
        row = json.loads(json.dumps(record.data))  # a deep copy the caller may change
        row["Id"] = record_id
        row["SyncToken"] = str(record.sync_token)
        row["MetaData"] = {
            "CreateTime": intuit_time(record.created_at),
            "LastUpdatedTime": intuit_time(record.updated_at),
        }
        return row  # type: ignore[no-any-return]

    def _company(self, realm_id: str) -> _Company:
        try:
            return self._companies[realm_id]
        except KeyError:
            raise KeyError(f"no company {realm_id} in this fake") from None

    def _customer(self, realm_id: str, customer_id: str) -> _Record:
        try:
            return self._company(realm_id).customers[customer_id]
        except KeyError:
            raise KeyError(f"no customer {customer_id} in company {realm_id}") from None
