"""What a test sets up in the Xero fake: registered apps, organisations with their chart of accounts, contacts
and accounts to add, change, archive, merge or erase; and what it reads back of them."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from typing import Any

from tests.fakes.xero.records import XeroClientApp, _Contact, _Organisation
from tests.fakes.xero.seed import DEFAULT_CHART, _empty_addresses, _empty_phones, _gdpr_erased, _generated_contact
from tests.fakes.xero.state import XeroState


class Controls(XeroState):
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
        return self.oauth.register_client(
            redirect_uris=redirect_uris, client_id=client_id, client_secret=client_secret, public=public, name=name
        )

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
            org.contacts_changed()
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
            org.contacts_changed()
            return contact_id

    def add_raw_contact(self, tenant_id: str, data: Any) -> str:
        """Add a contact exactly as given, served as it is (malformed ones too: no `ContactID`, `null`, fields of
        the wrong shape, NUL bytes, lone surrogates, not even an object); UpdatedDateUTC is added only when
        `data` is an object without one. Returns the key the fake keeps it under (not necessarily its id)."""
        with self._lock:
            org = self._org(tenant_id)
            org.contact_seq += 1
            key = f"raw-contact-{org.contact_seq}"
            org.contacts[key] = _Contact(data, self.clock(), raw=True)
            org.contacts_changed()
            return key

    def update_contact(self, tenant_id: str, contact_id: str, **fields: Any) -> None:
        """Change fields; bumps UpdatedDateUTC unless only IsCustomer, IsSupplier or Balances changed."""
        with self._lock:
            contact = self._contact(tenant_id, contact_id)
            contact.data.update(fields)
            if set(fields) - {"IsCustomer", "IsSupplier", "Balances"}:
                contact.updated_at = self.clock()
            self._org(tenant_id).contacts_changed()

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
            self._org(tenant_id).contacts_changed()

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

    def in_window(self, tenant_id: str, seconds: float = 60.0) -> int:
        """How many calls the organisation's rolling window holds now (for rate-limit tests)."""
        with self._lock:
            now = self.clock()
            return sum(1 for t in self._org(tenant_id).minute if t > now - seconds)
