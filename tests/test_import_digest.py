"""The change digest of an imported record: a contact imported by an earlier version and unchanged since still
counts as unchanged (otherwise the first import after an upgrade rewrites every customer), and the phones and
addresses are stored as the same JSON text as before."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import xxhash
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.customers.rows import prepare
from providers.base import Address, Phone
from providers.base import Customer as Record
from storage.db import Database, json_value
from storage.models import Customer, CustomerReference
from tests.test_import_records import NOW, import_page, setup_connections

RECORDS = [
    Record(id="d1", name="Plain Customer", updated_at=NOW),
    Record(
        id="d2",
        name="  Kauri Café Ltd ",
        first_name="Aroha",
        last_name="Ngata",
        company="Kauri Café",
        email="Aroha@Kauri.example",
        phones=(Phone("default", "+64 9 555 0101"), Phone("mobile", "021 555 0102")),
        addresses=(
            Address("postal", ("PO Box 1", "Ponsonby"), "Auckland", "Auckland", "1011", "NZ"),
            Address("street", ("12 Ōtāhuhu Rd",), "Auckland", None, None, "New Zealand"),
        ),
        number="C-0042",
        updated_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    ),
    Record(id="d3", name="X" * 300, email="long@example.com", number="N" * 80, addresses=(Address("postal"),)),
]


def earlier_fields(record: Record) -> dict[str, Any]:
    """The stored fields as the importer of 2026-12-02 built them, as plain dicts and lists."""
    return {
        "name": record.name.strip()[:255],
        "first_name": record.first_name,
        "last_name": record.last_name,
        "company": record.company,
        "email": record.email,
        "phones": [{"kind": p.kind, "number": p.number} for p in record.phones],
        "addresses": [
            {
                "kind": a.kind,
                "lines": list(a.lines),
                "city": a.city,
                "region": a.region,
                "postal_code": a.postal_code,
                "country": a.country,
            }
            for a in record.addresses
        ],
        "number": record.number[:64] if record.number else None,
        "active": record.active and not record.merged_into,
    }


def digested(record: Record) -> bytes:
    """What the digests of 2026-12-02 on are taken over: orjson of the stored fields and two flags."""
    return orjson.dumps((*earlier_fields(record).values(), record.merged_into, record.erase_personal_data))


def current_digest(record: Record) -> str:
    """The digest stored since 2026-12-06: XXH3-64 of those bytes."""
    return xxhash.xxh3_64_hexdigest(digested(record))


def earlier_digest(record: Record) -> str:
    """The digest stored by the importer of 2026-12-02: BLAKE2b-128 of the same bytes."""
    return hashlib.blake2b(digested(record), digest_size=16).hexdigest()


def sha256_digest(record: Record) -> str:
    """The digest stored before that (64 hex digits)."""
    state = [earlier_fields(record), record.merged_into, record.erase_personal_data]
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def test_digests_and_stored_json_are_those_of_earlier_imports(db: Database) -> None:
    workspace_id, (connection, _) = setup_connections(db)
    assert import_page(db, workspace_id, connection, RECORDS)["new"] == len(RECORDS)
    with db.session() as s:
        stored = {
            ref: value for ref, value in s.execute(select(CustomerReference.external_id, CustomerReference.digest))
        }
        customers = {c.name: c for c in s.scalars(select(Customer))}
    assert stored == {r.id: current_digest(r) for r in RECORDS}
    assert all(len(value) == 16 for value in stored.values())
    for record in RECORDS:
        customer = customers[earlier_fields(record)["name"]]
        assert customer.phones == earlier_fields(record)["phones"]
        assert customer.addresses == earlier_fields(record)["addresses"]
    with db.session() as s:  # the JSON texts themselves, as the CSV and other readers get them
        texts = s.execute(select(Customer.phones, Customer.addresses).where(Customer.name.like("Kauri%"))).one()
    assert [json_value(t) if isinstance(t, str | bytes) else t for t in texts] == [
        earlier_fields(RECORDS[1])["phones"],
        earlier_fields(RECORDS[1])["addresses"],
    ]


def test_contacts_imported_by_earlier_versions_and_unchanged_are_not_rewritten(db: Database) -> None:
    workspace_id, (connection, _) = setup_connections(db)
    import_page(db, workspace_id, connection, RECORDS)
    earlier = {"d1": earlier_digest(RECORDS[0]), "d2": sha256_digest(RECORDS[1]), "d3": current_digest(RECORDS[2])}
    with db.session() as s:
        for external_id, value in earlier.items():
            s.execute(
                update(CustomerReference).where(CustomerReference.external_id == external_id).values(digest=value)
            )
        before = {c.id: c.updated_at for c in s.scalars(select(Customer))}
    counts = import_page(db, workspace_id, connection, RECORDS)
    assert (counts["unchanged"], counts["updated"], counts["new"]) == (len(RECORDS), 0, 0)
    with db.session() as s:
        assert {c.id: c.updated_at for c in s.scalars(select(Customer))} == before
        assert {
            ref: value for ref, value in s.execute(select(CustomerReference.external_id, CustomerReference.digest))
        } == earlier
    moved = Record(id="d2", name="Kauri Café Ltd", email="new@kauri.example", updated_at=NOW)
    assert import_page(db, workspace_id, connection, [moved])["updated"] == 1
    with db.session() as s:
        digest = s.scalar(select(CustomerReference.digest).where(CustomerReference.external_id == "d2"))
    assert digest == current_digest(moved)  # a record written again takes the current digest


def test_a_contact_changed_since_an_earlier_version_stored_it_is_rewritten(db: Database) -> None:
    workspace_id, (connection, _) = setup_connections(db)
    import_page(db, workspace_id, connection, RECORDS)
    with db.session() as s:  # as each earlier version stored them; d3's digest is of no version's length
        for external_id, value in {
            "d1": earlier_digest(RECORDS[0]),
            "d2": sha256_digest(RECORDS[1]),
            "d3": current_digest(RECORDS[2])[:12],
        }.items():
            s.execute(
                update(CustomerReference).where(CustomerReference.external_id == external_id).values(digest=value)
            )
    changed = [
        Record(id="d1", name="Plain Customer", email="new@plain.example", updated_at=NOW),
        Record(id="d2", name="Kauri Café Ltd", email="new@kauri.example", updated_at=NOW),
        RECORDS[2],  # unchanged, but its digest cannot be told from a changed one's: written again
    ]
    counts = import_page(db, workspace_id, connection, changed)
    assert (counts["unchanged"], counts["updated"], counts["new"]) == (0, 3, 0)
    with db.session() as s:
        stored = dict(s.execute(select(CustomerReference.external_id, CustomerReference.digest)).all())
        emails = dict(s.execute(select(Customer.name, Customer.email)).all())
    assert stored == {record.id: current_digest(record) for record in changed}
    assert emails["Plain Customer"] == "new@plain.example"
    assert emails["Kauri Café Ltd"] == "new@kauri.example"


# Stored text as an earlier version stored it: stripped, not empty, within its column (`earlier_fields` takes it as
# it comes), in any script, lone surrogates and NUL bytes aside (the package's boundary takes those out).
_STORED = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12).map(str.strip)
_TEXT = _STORED.filter(bool)
_MAYBE = st.none() | _TEXT


@st.composite
def _stored_records(draw: st.DrawFn) -> Record:
    return Record(
        id=draw(st.uuids()).hex,
        name=draw(_TEXT),
        first_name=draw(_MAYBE),
        last_name=draw(_MAYBE),
        company=draw(_MAYBE),
        email=draw(_MAYBE),
        phones=tuple(draw(st.lists(st.builds(Phone, _TEXT, _TEXT), max_size=2))),
        addresses=tuple(
            draw(
                st.lists(
                    st.builds(Address, _TEXT, st.lists(_TEXT, max_size=2).map(tuple), _MAYBE, _MAYBE, _MAYBE, _MAYBE),
                    max_size=2,
                )
            )
        ),
        number=draw(_MAYBE),
        active=draw(st.booleans()),
        merged_into=draw(_MAYBE),
        erase_personal_data=draw(st.booleans()),
    )


@given(record=_stored_records(), email=_TEXT)
def test_each_versions_digest_of_a_record_is_recognised_and_of_another_is_not(record: Record, email: str) -> None:
    """For any record: the digest of each version (made here as each made it) tells it as unchanged, and none of them
    tells a record with another email as unchanged."""
    prepared = prepare(record)
    digests = [current_digest(record), earlier_digest(record), sha256_digest(record)]
    assert prepared.digest == digests[0]
    assert all(prepared.stored_as(digest) for digest in digests)
    changed = Record(**{**vars(record), "email": email + "@changed"})
    assert not any(prepare(changed).stored_as(digest) for digest in digests)
