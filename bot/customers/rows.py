"""A record as the customer tables hold it: its columns, its matching keys and its change digest, made from the
record alone (`prepare`). Pure Python without the database, so an import can make a page's rows in a process of
its own (`bot.imports.reading`) while it writes the page before; `bot.customers.matching` writes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import orjson
import xxhash

from bot.customers.csv_lines import record_line
from providers.base import Address, Skipped
from providers.base import Customer as Record
from providers.records import code_digest

log = logging.getLogger(__name__)

# Which contacts are customers. Some packages mark a contact a customer only after its first sales invoice, so
# "customers_only" would miss new ones; the default keeps every contact that is not only a supplier.
CUSTOMER_FILTERS = {
    "all_but_suppliers": "every contact except those that are only suppliers",
    "customers_only": "only contacts the package marks as customers",
    "all": "every contact",
}
DEFAULT_CUSTOMER_FILTER = "all_but_suppliers"
# Why a record that reached us was not stored: a value its columns cannot hold (the records are checked at the
# package's boundary, so this is the belt and braces after it).
REFUSED = "the database refused it"

_NAME_NOISE = frozenset(
    "ltd limited co company inc incorporated llc plc pty proprietary corp corporation group the and nz au uk".split()
)
_WORD = re.compile(r"[^\W_]+", re.ASCII)  # words of ASCII text: `name_words` makes it so
# The customer columns a record sets, in the order of `Prepared.fields` (the JSON ones as their text).
FIELDS = ("name", "first_name", "last_name", "company", "email", "phones", "addresses", "number", "active")


class _Marked(Protocol):
    """What the package says of a contact's role: a record as read (`Record`) or as prepared (`Prepared`)."""

    @property
    def is_customer(self) -> bool | None: ...

    @property
    def is_supplier(self) -> bool | None: ...


class _Judged(_Marked, Protocol):
    """... and whether it is archived, merged or erased at the package (`Prepared.gone`)."""

    @property
    def gone(self) -> bool: ...


def counts_as_customer(record: _Marked, customer_filter: str) -> bool:
    if customer_filter == "all":
        return True
    if customer_filter == "customers_only":
        return bool(record.is_customer)
    return not (record.is_supplier and not record.is_customer)


def becomes_customer(record: _Judged, customer_filter: str) -> bool:
    """Whether a record new to us becomes a customer: archived, merged and erased contacts do not."""
    return not record.gone and counts_as_customer(record, customer_filter)


def email_key(email: str | None) -> str | None:
    return email.strip().casefold()[:255] or None if email else None


def name_words(name: str | None) -> frozenset[str]:
    """The words that identify a name: accents, case, punctuation and legal suffixes (Ltd, & Co) ignored."""
    if not name:
        return frozenset()
    if name.isascii():  # most names: NFKD and dropping what is not ASCII would change nothing
        plain = name.casefold().replace("'", "")
    else:
        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold().replace("'", "")
    return frozenset(_WORD.findall(plain)).difference(_NAME_NOISE)


def name_key(name: str | None) -> str | None:
    return " ".join(sorted(name_words(name)))[:255] or None


def compatible_names(a: str | None, b: str | None) -> bool:
    """`Acme Plumbing` and `ACME Plumbing Ltd` are compatible; `Acme Plumbing` and `Acme Gas` are not."""
    wa, wb = name_words(a), name_words(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


class Prepared(NamedTuple):
    """A record as the import writes it: plain values only (it crosses from the reading process, packed:
    `bot.imports.reading.pack`).

    `fields` are the customer columns (`FIELDS`: clipped to what the columns hold, phones and addresses as their
    JSON column's text); `digest` changes only when what we store changes (IsCustomer and balances are not
    stored): 16 hex digits of XXH3-64 over orjson of the fields and two flags (`_state`), the phones and addresses
    inside it the same bytes as their texts. A change detector, not a seal (a tenth of BLAKE2b's microsecond a
    record, in the reading process that paces a first import); a digest an earlier version stored is still
    recognised (`stored_as`, tests/test_import_digest.py)."""

    id: str
    fields: tuple[Any, ...]
    digest: str
    email_key: str | None
    name_key: str | None
    active: bool  # at the package (`fields`' active is also false for a merged record)
    is_customer: bool | None
    is_supplier: bool | None
    updated_at: datetime | None
    merged_into: str | None
    erase_personal_data: bool
    removed: bool  # only the id came (`providers.base.Customer.removed`)
    source: str | None = None  # the record's `providers.base.Glance.source`, where the page was glanced at
    line: bytes | None = None  # its line in a CSV of customers (`csv_lines.record_line`), in UTF-8, where the reading
    # process made it (`bot.imports.reading`): the bytes written to the run's CSV as they are

    @property
    def name(self) -> str:
        """The name as stored: stripped, and clipped as its column is."""
        return str(self.fields[0])

    @property
    def gone(self) -> bool:
        """Archived, merged into another contact, or erased on request at the package."""
        return not self.active or bool(self.merged_into) or self.erase_personal_data

    def values(self, *after: Any) -> tuple[Any, ...]:
        """The customer columns, then the matching keys, then `after`."""
        return (*self.fields, self.email_key, self.name_key, *after)

    def stored_as(self, stored: str) -> bool:
        """Whether `stored`, a reference's digest, is this record's as the version that wrote it made digests, so
        a record unchanged since an upgrade is still seen as unchanged (its reference takes `digest` when next
        written): this one's (16 hex digits), BLAKE2b-128 over the same bytes (32, 2026-12-02 to 2026-12-06), or
        SHA-256 of the standard library's JSON over the stored fields as dicts (64, before 2026-12)."""
        if len(stored) == len(self.digest):
            return stored == self.digest
        if len(stored) == 32:
            over = _state(self.fields, self.merged_into, self.erase_personal_data)
            return stored == hashlib.blake2b(over, digest_size=16).hexdigest()
        if len(stored) != 64:
            return False
        fields = dict(zip(FIELDS, self.fields, strict=True))
        fields["name"] = fields["name"] or ""
        fields["phones"], fields["addresses"] = json.loads(fields["phones"]), json.loads(fields["addresses"])
        state = [fields, self.merged_into, self.erase_personal_data]
        return stored == hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def _state(fields: tuple[Any, ...], merged_into: str | None, erase_personal_data: bool) -> bytes:
    """What a digest is taken over: orjson of the stored fields (the phones' and addresses' JSON texts as they
    are) and the two flags."""
    state = (*fields[:5], orjson.Fragment(fields[5]), orjson.Fragment(fields[6]), *fields[7:])
    return orjson.dumps((*state, merged_into, erase_personal_data))


def _json_list(items: tuple[Any, ...], as_dict: Callable[[Any], dict[str, Any]]) -> str:
    """Phones or addresses as their JSON column's text. orjson writes the frozen dataclasses themselves as
    objects of their fields in order, the same text as their dicts (`_phone`, `_address`), without making them."""
    if not items:
        return "[]"
    try:
        return orjson.dumps(items).decode()
    except TypeError:  # text orjson refuses (a lone surrogate): written as the JSON columns write it
        return json.dumps([as_dict(item) for item in items])  # as `storage.json_columns.json_text` falls back


def _phone(phone: Any) -> dict[str, Any]:
    return {"kind": phone.kind, "number": phone.number}


def _address(address: Address) -> dict[str, Any]:
    return {
        "kind": address.kind,
        "lines": list(address.lines),
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
    }


def prepare(record: Record, source: str | None = None, *, line: bool = False) -> Prepared:
    """The record as written (`Prepared`), in one pass: the phones and addresses are written to JSON once, and
    the digest is taken over those texts. `source`: the record's as its page was glanced at. `line`: with its
    line in a CSV of customers (`Prepared.line`)."""
    first_name, last_name, company = record.first_name, record.last_name, record.company
    email, number = record.email, record.number
    name = record.name.strip()[:255]
    phones, addresses = _json_list(record.phones, _phone), _json_list(record.addresses, _address)
    active = record.active and not record.merged_into
    fields = (
        name,
        first_name[:255] if first_name else None,
        last_name[:255] if last_name else None,
        company[:255] if company else None,
        email[:255] if email else None,
        phones,
        addresses,
        number[:64] if number else None,
        active,
    )
    return Prepared(
        record.id,
        fields,
        xxhash.xxh3_64_hexdigest(_state(fields, record.merged_into, record.erase_personal_data)),
        email_key(fields[4]),
        name_key(name),
        record.active,
        record.is_customer,
        record.is_supplier,
        record.updated_at,
        record.merged_into,
        record.erase_personal_data,
        record.removed,
        source,
        record_line(fields, record.phones, record.addresses).encode() if line else None,
    )


def prepare_page(
    records: Iterable[Record], sources: Mapping[str, str] | None = None, *, lines: str | None = None
) -> tuple[list[Prepared], list[Skipped]]:
    """The records prepared (with their `sources` by id), and those that cannot be (a value no column can hold), each
    skipped alone. `lines`: a customer filter, each record that becomes a customer under it (`becomes_customer`: the
    customers an import creates are among them) with its CSV line (`prepare`); the others' would never be written
    (suppliers', archived contacts': a fifth of the bench's records, 1 % of a page's reading)."""
    prepared, refused = [], []
    sources = sources or {}
    for record in records:
        try:
            line = lines is not None and becomes_customer(record, lines)
            prepared.append(prepare(record, sources.get(record.id), line=line))
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("Record %r cannot be stored: %s", record.id, exc)
            refused.append(Skipped(id=record.id, name=record.name, reason=REFUSED))
    return prepared, refused


def prepare_records(
    records: Iterable[Record],
    skipped: list[Skipped],
    sources: Mapping[str, str] | None = None,
    *,
    lines: str | None = None,
) -> tuple[list[Prepared], list[Skipped]]:
    """A page's records prepared, and the records it could not use with those that cannot be prepared."""
    prepared, refused = prepare_page(records, sources, lines=lines)
    return prepared, skipped + refused


# This module's code, mixed into the records' sources (`providers.base.Encoded.glance`): a record stored by other
# code is read again, not taken as unchanged at a glance.
READING_KEY = code_digest(sys.modules[__name__])
