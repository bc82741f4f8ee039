"""Invoices and payments in the database (issue 15), on SQLite and PostgreSQL: amounts come back as the exact
Decimal stored, an idempotency key is held once, and an invoice's number at a connection is unique."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import Connection, Invoice, InvoicePayment, InvoiceStatus, PaymentStatus, Workspace


def _connection(db: Database) -> tuple[int, int]:
    with db.session() as s:
        workspace = Workspace(team_id="T1")
        s.add(workspace)
        s.flush()
        connection = Connection(workspace_id=workspace.id, provider="p", organisation_id="o", organisation_name="Acme")
        s.add(connection)
        s.flush()
        return workspace.id, connection.id


def _invoice(workspace_id: int, connection_id: int, key: str, **fields: object) -> Invoice:
    return Invoice(
        workspace_id=workspace_id,
        connection_id=connection_id,
        customer_external_id="c-1",
        customer_name="Jo Bloggs",
        idempotency_key=key,
        issued_on=date(2026, 12, 2),
        due_on=date(2026, 12, 22),
        created_by="U1",
        lines=[{"description": "Call-out", "quantity": "1", "unit_price": "85.005"}],
        **fields,
    )


money = st.decimals(min_value=Decimal("-9999999999999.99"), max_value=Decimal("9999999999999.99"), places=2)


def test_amounts_come_back_exactly_as_decimals(db: Database) -> None:
    workspace_id, connection_id = _connection(db)
    seen: list[Decimal] = []

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(amount=money)
    def round_trip(amount: Decimal) -> None:
        with db.session() as s:
            row = _invoice(workspace_id, connection_id, f"k-{len(seen)}", total=amount, amount_due=amount)
            s.add(row)
            s.flush()
            row_id = row.id
        seen.append(amount)
        with db.session() as s:
            stored = s.get(Invoice, row_id)
            assert stored is not None
            assert isinstance(stored.total, Decimal) and stored.total == amount
            assert stored.status == InvoiceStatus.PENDING

    round_trip()


def test_an_idempotency_key_is_held_once(db: Database) -> None:
    workspace_id, connection_id = _connection(db)
    with db.session() as s:
        s.add(_invoice(workspace_id, connection_id, "slack:V1"))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(_invoice(workspace_id, connection_id, "slack:V1"))
    with db.session() as s:
        assert len(s.scalars(select(Invoice)).all()) == 1


def test_an_invoice_at_a_connection_is_stored_once_and_its_payments_go_with_it(db: Database) -> None:
    workspace_id, connection_id = _connection(db)
    with db.session() as s:
        first = _invoice(workspace_id, connection_id, "a", external_id="inv-1")
        s.add(first)
        s.flush()
        s.add(
            InvoicePayment(
                invoice_id=first.id,
                idempotency_key="pay-a",
                amount=Decimal("10.05"),
                paid_on=date(2026, 12, 3),
                account_code="090",
                recorded_by="U1",
                status=PaymentStatus.RECORDED,
            )
        )
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(_invoice(workspace_id, connection_id, "b", external_id="inv-1"))
    with db.session() as s:
        s.delete(s.scalars(select(Invoice)).one())
    with db.session() as s:
        assert s.scalars(select(InvoicePayment)).all() == []
