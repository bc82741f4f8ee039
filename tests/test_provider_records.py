"""The provider records' own `__init__` (set straight into the instance, for speed) takes the same
fields, in the same order and with the same defaults, as the dataclass declares, and the records stay frozen."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from providers.base import Address, Customer, Phone


@pytest.mark.parametrize("record", [Customer, Phone, Address])
def test_init_takes_the_declared_fields(record: type) -> None:
    declared = [(f.name, f.default) for f in dataclasses.fields(record)]
    parameters = list(inspect.signature(record).parameters.values())
    assert [(p.name, p.default) for p in parameters] == [
        (name, inspect.Parameter.empty if default is dataclasses.MISSING else default) for name, default in declared
    ]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters)


def test_records_stay_frozen_and_compare_by_fields() -> None:
    phone = Phone("mobile", "021 555 0100")
    address = Address(kind="street", lines=("1 Queen St",), city="Auckland")
    customer = Customer(
        "c-1", "Hemi", phones=(phone,), addresses=(address,), updated_at=datetime(2024, 1, 2, tzinfo=UTC)
    )
    assert vars(customer) == {
        "id": "c-1",
        "name": "Hemi",
        "first_name": None,
        "last_name": None,
        "company": None,
        "email": None,
        "phones": (phone,),
        "addresses": (address,),
        "active": True,
        "is_customer": None,
        "is_supplier": None,
        "updated_at": datetime(2024, 1, 2, tzinfo=UTC),
        "merged_into": None,
        "erase_personal_data": False,
        "number": None,
        "raw_status": None,
        "removed": False,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        customer.name = "Someone else"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        phone.number = "0"  # type: ignore[misc]
    same = Customer(
        id="c-1",
        name="Hemi",
        phones=(Phone(kind="mobile", number="021 555 0100"),),
        addresses=(Address("street", ("1 Queen St",), "Auckland"),),
        updated_at=datetime(2024, 1, 2, tzinfo=UTC),
    )
    assert same == customer and hash(same) == hash(customer)
    renamed = dataclasses.replace(customer, name="Hemi Anderson")
    assert renamed.name == "Hemi Anderson" and renamed.phones == (phone,) and renamed != customer
    assert repr(phone) == "Phone(kind='mobile', number='021 555 0100')"
