"""What the invoice form may offer a workspace: its connection's mapped categories with their accounts and default
tax codes, the active tax codes, and the imported customers to choose from; or why it cannot raise invoices now."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.categories import Category
from bot.connections import connect
from bot.mapping import account_mapping, tax_codes
from bot.mapping.account_mapping import ChartEntry
from bot.mapping.tax_codes import TaxEntry
from bot.runtime import Runtime
from storage.models import Customer, CustomerReference


@dataclass(frozen=True)
class LineCategory:
    """A category invoice lines may use: its mapped account and default tax code."""

    category: Category
    account: ChartEntry
    tax: TaxEntry | None


@dataclass(frozen=True)
class InvoicingSetup:
    """What the invoice form needs of a workspace's connection."""

    connection_id: int
    organisation_name: str
    provider_title: str
    categories: tuple[LineCategory, ...]
    tax_codes: tuple[TaxEntry, ...]  # active ones


class NoInvoicing(Exception):
    """Why this workspace cannot raise invoices now, in words for a person (`str()`)."""


def setup(runtime: Runtime, session: Session, *, workspace_id: int) -> InvoicingSetup:
    """The workspace's connection ready for invoicing, or NoInvoicing saying what to do first."""
    connection = connect.active_connection(session, workspace_id=workspace_id)
    if connection is None:
        raise NoInvoicing(
            "Nothing is connected yet, so there is nowhere to raise invoices. Start with `/accounts connect`."
        )
    provider = runtime.providers.get(connection.provider)
    if provider is None:
        raise NoInvoicing(f"{connection.provider} is no longer set up on this bot.")
    if not tax_codes.offers_invoicing(provider):
        raise NoInvoicing(f"Raising invoices from Slack is not available for {provider.title} yet.")
    entries = account_mapping.chart(session, connection_id=connection.id)
    saved = account_mapping.saved_mapping(session, connection_id=connection.id)
    taxes = tax_codes.tax_codes(session, connection_id=connection.id)
    offered = []
    for category in runtime.settings.categories:
        row = saved.get(category.key)
        entry = entries.get(row.account_external_id) if row else None
        if row is None or entry is None or not entry.active or not tax_codes.taxable(category):
            continue
        if entry.kind == "bank":
            continue
        tax = taxes.get(row.tax_code) if row.tax_code else None
        offered.append(LineCategory(category, entry, tax if tax is not None and tax.active else None))
    if not offered:
        raise NoInvoicing(
            "No category is mapped to an account invoices can use. An admin can map them with `/accounts map`."
        )
    return InvoicingSetup(
        connection_id=connection.id,
        organisation_name=connection.organisation_name,
        provider_title=provider.title,
        categories=tuple(offered),
        tax_codes=tuple(t for t in taxes.values() if t.active),
    )


def chosen_customer(session: Session, *, connection_id: int, workspace_id: int, customer_id: int) -> Customer | None:
    """One customer the form may offer (as `customer_choices` would), or None."""
    statement = (
        select(Customer)
        .join(CustomerReference, CustomerReference.customer_id == Customer.id)
        .where(
            Customer.id == customer_id,
            CustomerReference.connection_id == connection_id,
            Customer.workspace_id == workspace_id,
            Customer.active.is_(True),
            Customer.erased_at.is_(None),
        )
    )
    return session.scalars(statement.limit(1)).first()


def customer_choices(
    session: Session, *, connection_id: int, workspace_id: int, query: str, limit: int = 100
) -> list[Customer]:
    """Imported customers of the connection whose name or email holds what was typed, by name."""
    statement = (
        select(Customer)
        .join(CustomerReference, CustomerReference.customer_id == Customer.id)
        .where(
            CustomerReference.connection_id == connection_id,
            Customer.workspace_id == workspace_id,
            Customer.active.is_(True),
            Customer.erased_at.is_(None),
        )
    )
    for word in query.casefold().split():
        statement = statement.where(
            Customer.name_key.contains(word, autoescape=True)
            | Customer.email_key.contains(word, autoescape=True)
            | Customer.name.ilike(f"%{word}%")
        )
    return list(session.scalars(statement.order_by(Customer.name, Customer.id).limit(limit)))
