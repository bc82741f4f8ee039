"""The MYOB fake's state (company files, keys' use of the limits, calls, the OAuth2 server keeping apps, codes and
tokens), the OAuth2 server's hooks (the consent page offers the user's company files; only an administrator may
consent; the callback names the file), and what a test sets up and reads back."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import JSONResponse, Response

from tests.fakes.myob.errors import token_invalid
from tests.fakes.myob.identity import MYOB_OAUTH
from tests.fakes.myob.records import Call, MyobLimits, _Card, _CompanyFile, _FailureRule, _KeyUse
from tests.fakes.myob.seed import DEFAULT_CHART, TAX_CODES, customer_fields, empty_address, generated_customer
from tests.fakes.oauth2 import Authorisation, ClientApp, Consent, ConsentOption, OAuth2Hooks, OAuth2Server, User


def myob_time(ts: float, zone: str) -> str:
    """MYOB's way of writing a time: wall-clock in the file's zone, milliseconds, no zone."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return local.isoformat(timespec="milliseconds")


class MyobState(OAuth2Hooks):
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        limits: MyobLimits | None = None,
        latency: float = 0.0,
        gateway_timeout: float = 120.0,
        access_token_ttl: int = 1200,
        expires_in_as_string: bool = False,
        user_name: str = "Demo Admin",
        user_email: str = "demo.admin@example.com",
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self._started = time.monotonic()
        self.limits = limits or MyobLimits()
        self.latency = latency
        self.gateway_timeout = gateway_timeout  # calls longer than this get MYOB's 504
        self.expires_in_as_string = expires_in_as_string  # MYOB sometimes writes expires_in as "1200"
        self.seed = seed
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://myob.fake/{seed}")
        self._file_seq = itertools.count(1)
        self._lock = threading.RLock()
        self.user = User(str(uuid.uuid5(self._namespace, "user")), user_name, user_email)
        profile = replace(MYOB_OAUTH, access_token_ttl=access_token_ttl)
        self.oauth = OAuth2Server(profile, user=self.user, hooks=self, clock=clock, lock=self._lock)
        self._files: dict[str, _CompanyFile] = {}
        self._keys: dict[str, _KeyUse] = {}
        self._failures: list[_FailureRule] = []
        self._lost: dict[str, int] = {}  # creates whose answers are lost next, by resource
        self._holds: dict[str, list[threading.Event]] = {}  # creates whose answers wait, by resource
        self.calls: list[Call] = []
        self.arrived = threading.Condition()  # notified as each call is recorded (`PackageDriver.wait_for_calls`)

    # -- the OAuth2 server's hooks ---------------------------------------------------------------

    def consent_options(self, client: ClientApp) -> list[ConsentOption]:
        files = sorted((f for f in self._files.values() if not f.removed), key=lambda f: f.name.casefold())
        return [ConsentOption(f.id, f.name, checked=i == 0) for i, f in enumerate(files)]

    def refusal(self, consent: Consent) -> str | None:
        (file_id,) = consent.chosen or ("",)
        company_file = self._files.get(file_id)
        if company_file is not None and not company_file.administrator:
            return (
                f"Only an administrator of {company_file.name} can allow access to it. Ask the file's "
                "administrator to connect it, or choose another company file."
            )
        return None

    def authorise(self, consent: Consent) -> Authorisation:
        """The chosen company file, named in the callback; the tokens reach only that file."""
        (file_id,) = consent.chosen
        company_file = self._files[file_id]
        return Authorisation(
            claims={"business_id": file_id, "username": self.user.email},
            callback={"businessId": file_id, "businessName": company_file.name},
        )

    def unauthorized(self, *, expired_at: float | None) -> Response:
        return JSONResponse(token_invalid(expired=expired_at is not None), status_code=401)

    # -- what a test sets up ---------------------------------------------------------------------

    def register_client(
        self,
        *,
        redirect_uris: Iterable[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        name: str = "accounts-bot",
    ) -> ClientApp:
        """Register an API key (its client id is also the `x-myobapi-key` of every call)."""
        return self.oauth.register_client(
            redirect_uris=redirect_uris, client_id=client_id, client_secret=client_secret, name=name
        )

    def add_company_file(
        self, name: str, *, administrator: bool = True, chart: bool = True, time_zone: str = "UTC"
    ) -> str:
        """A company file the user can see (and, unless `administrator=False`, consent to), with AccountRight's
        chart unless `chart=False`; its times are written in `time_zone`."""
        with self._lock:
            file_id = str(uuid.uuid5(self._namespace, f"file-{next(self._file_seq)}"))
            self._files[file_id] = _CompanyFile(file_id, name, administrator, time_zone)
            for code, description, tax_type, rate, negative in TAX_CODES:
                uid = str(uuid.uuid5(uuid.UUID(file_id), f"tax-{code}"))
                data = {"UID": uid, "Code": code, "Description": description, "Type": tax_type, "Rate": rate}
                data |= {"IsRateNegative": negative, "LuxuryCarTaxThreshold": 0.0}
                self._files[file_id].tax_codes[uid] = _Card(data, self.clock() - 400 * 86400)
            if chart:
                parents: dict[str, str] = {}
                for display_id, account_name, classification, account_type, header, tax, extra in DEFAULT_CHART:
                    level = 1 if display_id.endswith("-0000") else (2 if header else 3)
                    parent = parents.get(display_id[:1]) if level > 1 else None
                    uid = self.add_account(
                        file_id,
                        display_id,
                        account_name,
                        classification,
                        account_type,
                        header=header,
                        tax_code=tax,
                        level=level,
                        parent=parent,
                        **extra,
                    )
                    if level == 1:
                        parents[display_id[:1]] = uid
            return file_id

    def remove_company_file(self, file_id: str) -> None:
        with self._lock:
            self._file(file_id).removed = True

    def demote(self, file_id: str) -> None:
        """The user is no longer an administrator of the file."""
        with self._lock:
            self._file(file_id).administrator = False

    def deactivate_key(self, client_id: str) -> None:
        with self._lock:
            self._keys.setdefault(client_id, _KeyUse()).inactive = True

    def add_account(
        self,
        file_id: str,
        display_id: str,
        name: str,
        classification: str,
        account_type: str,
        *,
        header: bool = False,
        tax_code: str = "N-T",
        level: int = 3,
        parent: str | None = None,
        **extra: Any,
    ) -> str:
        with self._lock:
            company_file = self._file(file_id)
            company_file.seq += 1
            uid = str(uuid.uuid5(uuid.UUID(file_id), f"account-{company_file.seq}"))
            parent_card = company_file.accounts.get(parent or "")
            data: dict[str, Any] = {
                "UID": uid,
                "Name": name,
                "DisplayID": display_id,
                "Classification": classification,
                "Type": account_type,
                "Number": int(display_id.replace("-", "")[1:]),
                "Description": None,
                "ParentAccount": (
                    {"UID": parent, "Name": parent_card.data["Name"], "DisplayID": parent_card.data["DisplayID"]}
                    if parent_card
                    else None
                ),
                "IsActive": True,
                "TaxCode": {"UID": str(uuid.uuid5(uuid.UUID(file_id), f"tax-{tax_code}")), "Code": tax_code},
                "Level": level,
                "OpeningBalance": 0.0,
                "CurrentBalance": 0.0,
                "BankingDetails": None,
                "IsHeader": header,
                "ForeignCurrency": None,
                "CurrencyExchangeRate": None,
            }
            data.update(extra)
            company_file.accounts[uid] = _Card(data, self.clock() - 400 * 86400)
            return uid

    def update_account(self, file_id: str, uid: str, **fields: Any) -> None:
        with self._lock:
            card = self._file(file_id).accounts[uid]
            card.data.update(fields)
            card.modified_at = self.clock()

    def accounts(self, file_id: str) -> list[dict[str, Any]]:
        with self._lock:
            company_file = self._file(file_id)
            return [self._render(company_file, c, "GeneralLedger/Account") for c in company_file.accounts.values()]

    def seed_customers(self, file_id: str, n: int, *, modified_at: float | None = None) -> list[str]:
        """`n` varied customer cards (deterministic for the fake's `seed`); their UIDs. `modified_at` pins their
        LastModified; by default it is spread over the three years before the clock's now."""
        with self._lock:
            company_file, now, uids = self._file(file_id), self.clock(), []
            for _ in range(n):
                company_file.seq += 1
                rng = random.Random(f"{self.seed}/{file_id}/{company_file.seq}")
                uid = str(uuid.uuid5(uuid.UUID(file_id), f"customer-{company_file.seq}"))
                data = {"UID": uid, **generated_customer(rng, company_file.seq)}
                stamp = modified_at if modified_at is not None else now - rng.uniform(86400, 3 * 365 * 86400)
                company_file.customers[uid] = _Card(data, stamp)
                uids.append(uid)
            return uids

    def add_customer(
        self,
        file_id: str,
        name: str,
        *,
        individual: bool = False,
        first: str | None = None,
        last: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        **fields: Any,
    ) -> str:
        """One active customer card with MYOB's field names in `fields`; its UID."""
        with self._lock:
            company_file = self._file(file_id)
            company_file.seq += 1
            uid = str(uuid.uuid5(uuid.UUID(file_id), f"customer-{company_file.seq}"))
            data = {"UID": uid, **customer_fields(individual=individual, name=name, first=first, last=last)}
            slot = empty_address(1)
            slot.update(Email=email, Phone1=phone)
            data["Addresses"] = [slot] if email or phone else []
            data.update(fields)
            company_file.customers[uid] = _Card(data, self.clock())
            return uid

    def add_raw_customer(self, file_id: str, data: Any) -> str:
        """A card served exactly as given (no UID, fields of the wrong shape, not even an object)."""
        with self._lock:
            company_file = self._file(file_id)
            company_file.seq += 1
            key = f"raw-customer-{company_file.seq}"
            company_file.customers[key] = _Card(data, self.clock(), raw=True)
            return key

    def update_customer(self, file_id: str, uid: str, **fields: Any) -> None:
        with self._lock:
            card = self._file(file_id).customers[uid]
            card.data.update(fields)
            card.modified_at = self.clock()

    def set_email(self, file_id: str, uid: str, email: str) -> None:
        with self._lock:
            card = self._file(file_id).customers[uid]
            slots = card.data.get("Addresses") or [empty_address(1)]
            slots[0]["Email"] = email
            self.update_customer(file_id, uid, Addresses=slots)

    def customer(self, file_id: str, uid: str) -> dict[str, Any]:
        with self._lock:
            company_file = self._file(file_id)
            return self._render(company_file, company_file.customers[uid], "Contact/Customer")

    def customer_uids(self, file_id: str) -> list[str]:
        with self._lock:
            return list(self._file(file_id).customers)

    def authorised_files(self, client_id: str | None = None) -> set[str]:
        """The company files a live refresh token (neither spent nor revoked) of the app reaches: what MYOB lists
        under each file's authorised apps."""
        with self._lock:
            reached = {
                str(token.grant.authorisation.claims.get("business_id"))
                for token in self.oauth._refresh_tokens.values()
                if not token.revoked
                and token.spent_at is None
                and (client_id is None or token.grant.client_id == client_id)
            }
            return {file_id for file_id in reached if file_id in self._files and not self._files[file_id].removed}

    @property
    def company_files(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"Id": f.id, "Name": f.name, "Removed": f.removed} for f in self._files.values()]

    # -- shared by the parts ---------------------------------------------------------------------

    def limit_time(self) -> float:
        """The time the key's limits are counted on: the fake's clock plus the real time since the fake began. A
        test that holds the clock still still sees a bot pacing itself in real time drain the window of a second,
        as MYOB would; a test that moves the clock (and gives the provider its sleep) moves the window with it."""
        return self.clock() + (time.monotonic() - self._started)

    def _file(self, file_id: str) -> _CompanyFile:
        try:
            return self._files[file_id]
        except KeyError:
            raise KeyError(f"no company file {file_id} in this fake") from None

    def _render(self, company_file: _CompanyFile, card: _Card, resource: str) -> dict[str, Any]:
        if card.raw:
            return card.data
        row: dict[str, Any] = json.loads(json.dumps(card.data))  # a deep copy the caller may change
        uid = row.get("UID")
        row["URI"] = f"https://api.myob.com/accountright/{company_file.id}/{resource}/{uid}"
        row["LastModified"] = myob_time(card.modified_at, company_file.time_zone)
        row["RowVersion"] = str(int(card.modified_at * 1000) % 10**19)
        return row
