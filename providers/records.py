"""Every package's records checked at the provider boundary, the same way for each package.

What a package sends is repaired where it can be (NUL bytes taken out, lone surrogates replaced, text cut to
fit, fields of the wrong shape dropped) and skipped with its reason where it cannot (no usable id), so one odd
contact never stops an import. A package's mapper raises `UnusableRecord` for a record it cannot use;
`read_customers` turns a page of raw records into checked customers and `Skipped` entries and never raises.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from providers.base import ID_LIMIT, TEXT_LIMIT, Address, Customer, Phone, Skipped

log = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
KIND_LIMIT = 32  # a phone's or an address's kind, a record's raw status


class UnusableRecord(ValueError):
    """A record that cannot be imported at all; `reason` says why, for a person ("it has no id")."""

    def __init__(self, reason: str, *, id: str | None = None, name: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.id, self.name = reason, id, name


def code_digest(*modules: ModuleType) -> bytes:
    """32 bytes that change with the files of `modules`: the code that reads a record, mixed into a digest of
    what it read (`providers.base.Glance.source`), so that a record read by other code is read again."""
    digest = hashlib.blake2b(digest_size=32)
    for module in modules:
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.digest()


def clean_text(value: Any, limit: int | None = TEXT_LIMIT) -> str | None:
    """Text from a package's field: a string, or a number written out; anything else (a list, a dict, `true`)
    is None. NUL bytes are taken out (PostgreSQL refuses them), lone surrogates become U+FFFD, and the text is
    stripped and cut to `limit`. None when nothing is left."""
    if value is None or value == "":  # the most common field of all: Xero's empty slots
        return None
    if type(value) is str and "\x00" not in value and (value.isascii() or not _LONE_SURROGATE.search(value)):
        text = value.strip()  # the common case, taken without copying: most fields are clean already
        if limit is not None and len(text) > limit:
            text = text[:limit].rstrip()
        return text or None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an integer too long to write out
        return None
    text = _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", "")).strip()
    if limit is not None:
        text = text[:limit].rstrip()
    return text or None


def clean_id(value: Any) -> str:
    """A record's id as we keep it, or `UnusableRecord` saying why there is none. Numbers are written out; an id
    is never repaired otherwise (cut or cleaned, two ids could become one)."""
    if type(value) is str and value.isascii() and value.isprintable() and 0 < len(value) <= ID_LIMIT:
        # the usual id, seen without the patterns below: printable ASCII has no control characters or surrogates
        if value[0] != " " and value[-1] != " ":
            return value
    shown = clean_text(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UnusableRecord("it has no id", id=shown)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UnusableRecord("its id is not text", id=shown)
    text = value.strip() if isinstance(value, str) else clean_text(value, None)
    if text is None:
        raise UnusableRecord("its id is not text", id=shown)
    if _CONTROL.search(text) or _LONE_SURROGATE.search(text):
        raise UnusableRecord("its id has characters that cannot be stored", id=shown)
    if len(text) > ID_LIMIT:
        raise UnusableRecord(f"its id is longer than {ID_LIMIT} characters", id=shown)
    return text


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _phone(phone: Any) -> Phone | None:
    if not isinstance(phone, Phone) or (number := clean_text(phone.number)) is None:
        return None
    kind = clean_text(phone.kind, KIND_LIMIT) or "default"
    return phone if number is phone.number and kind is phone.kind else Phone(kind=kind, number=number)


def _address(address: Any) -> Address | None:
    if not isinstance(address, Address):
        return None
    lines = address.lines if isinstance(address.lines, tuple | list) else ()
    checked: dict[str, Any] = dict(
        kind=clean_text(address.kind, KIND_LIMIT) or "postal",
        lines=_same(lines, tuple(line for raw in lines if (line := clean_text(raw)))),
        city=clean_text(address.city),
        region=clean_text(address.region),
        postal_code=clean_text(address.postal_code, ID_LIMIT),
        country=clean_text(address.country),
    )
    if not (checked["lines"] or checked["city"] or checked["region"] or checked["postal_code"] or checked["country"]):
        return None
    if all(getattr(address, field) is value for field, value in checked.items()):
        return address  # already clean: nothing to copy
    return Address(**checked)


def _same(old: Any, new: tuple[Any, ...]) -> Any:
    """`old` itself when `new` holds the very same items (nothing was repaired), else `new`."""
    if type(old) is tuple and len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True)):
        return old
    return new


def normalised(customer: Customer) -> Customer:
    """A mapper's customer checked against the `Page` contract: a usable id, and every field of its type, clean
    and within the limits. Raises `UnusableRecord` when the id cannot be used."""
    name = clean_text(customer.name) or ""
    try:
        customer_id = clean_id(customer.id)
    except UnusableRecord as exc:
        raise UnusableRecord(exc.reason, id=exc.id, name=name or None) from None
    try:
        merged_into: str | None = clean_id(customer.merged_into) if customer.merged_into is not None else None
    except UnusableRecord:
        merged_into = None
    phones = customer.phones if isinstance(customer.phones, tuple | list) else ()
    addresses = customer.addresses if isinstance(customer.addresses, tuple | list) else ()
    checked: dict[str, Any] = dict(
        id=customer_id,
        name=name,
        first_name=clean_text(customer.first_name),
        last_name=clean_text(customer.last_name),
        company=clean_text(customer.company),
        email=clean_text(customer.email),
        phones=_same(phones, tuple(p for raw in phones if (p := _phone(raw)))),
        addresses=_same(addresses, tuple(a for raw in addresses if (a := _address(raw)))),
        active=customer.active is not False,
        is_customer=_flag(customer.is_customer),
        is_supplier=_flag(customer.is_supplier),
        updated_at=customer.updated_at if isinstance(customer.updated_at, datetime) else None,
        merged_into=merged_into,
        erase_personal_data=customer.erase_personal_data is True,
        number=clean_text(customer.number, ID_LIMIT),
        raw_status=clean_text(customer.raw_status, KIND_LIMIT),
        removed=customer.removed is True,
    )
    if all(getattr(customer, field) is value for field, value in checked.items()):
        return customer  # already clean: nothing to copy
    return dataclasses.replace(customer, **checked)


def read_customers(
    raws: Iterable[Any],
    to_customer: Callable[[Any], Customer],
    *,
    describe: Callable[[Any], tuple[str | None, str | None]] = lambda raw: (None, None),
    checked: bool = False,
) -> tuple[list[Customer], list[Skipped]]:
    """A page of a package's raw records as checked customers, and the records that could not be used. Never
    raises for a record: `to_customer` (the package's mapper) raises `UnusableRecord` for one it cannot use,
    and anything else it raises skips that record too. `describe(raw)` gives a raw record's id and name, for
    saying which one was skipped. The same id twice in a page is one customer: the later record wins.
    `checked=True`: the mapper builds every field with `clean_text` and `clean_id` itself (its tests show that
    `normalised` leaves its customers unchanged), so they are not checked a second time."""
    customers: dict[str, Customer] = {}
    skipped: list[Skipped] = []
    for raw in raws:
        try:
            customer = to_customer(raw) if checked else normalised(to_customer(raw))
        except UnusableRecord as exc:
            known_id, known_name = _described(describe, raw)
            skipped.append(Skipped(id=exc.id or known_id, name=exc.name or known_name, reason=exc.reason))
        except Exception as exc:  # a mapper's slip on a shape nobody foresaw must not stop an import either
            log.warning("A record could not be read (%s: %s)", type(exc).__name__, exc)
            known_id, known_name = _described(describe, raw)
            skipped.append(Skipped(id=known_id, name=known_name, reason="it could not be read"))
        else:
            if customer.id in customers:
                del customers[customer.id]  # the later record wins, in its own place
            customers[customer.id] = customer
    return list(customers.values()), skipped


def _described(describe: Callable[[Any], tuple[str | None, str | None]], raw: Any) -> tuple[str | None, str | None]:
    try:
        found_id, name = describe(raw)
    except Exception:  # describing is best effort
        return None, None
    return clean_text(found_id), clean_text(name)
