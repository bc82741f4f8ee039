"""Telling Slack about invoices: the invoice's message in the channel it was raised from (its thread gets the
news after), and the scheduled read-back of the invoices we raised, telling each thread when the package says
it was approved, part-paid, paid or voided. Pending invoices whose answer was lost are asked again, with their key.

`track_all` is the scheduler's job; `track` does one connection and is what tests call.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import delete, select, update

from bot.connections.links import link_for
from bot.invoices import raising
from bot.runtime import Runtime
from bot.slack.notify import CANNOT_POST_HERE, direct_message
from bot.views import invoices as views
from providers.base import ProviderError
from providers.invoicing import Invoicing
from storage.models import (
    OPEN_STATUSES,
    Connection,
    ConnectionStatus,
    Invoice,
    InvoiceStatus,
    InvoiceTracking,
    Workspace,
)

log = logging.getLogger(__name__)

TRACK_EVERY = timedelta(minutes=5)
PREVIEW_KEPT = timedelta(days=1)
OVERLAP = timedelta(minutes=1)  # If-Modified-Since starts a little before the last look: clocks differ


def card(runtime: Runtime, row: Invoice, *, url: str | None) -> views.InvoiceCard:
    connection_provider = runtime.providers.get(_provider_name(runtime, row.connection_id))
    return views.InvoiceCard(
        invoice_id=row.id,
        number=row.number,
        customer_name=row.customer_name,
        total=row.total or Decimal(0),
        amount_due=row.amount_due,
        currency=row.currency,
        status=str(row.status),
        due_on=row.due_on,
        url=url,
        provider_title=connection_provider.title if connection_provider else "the accounting package",
        created_by=row.created_by,
    )


def _provider_name(runtime: Runtime, connection_id: int) -> str:
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        return connection.provider if connection else ""


def invoice_url(runtime: Runtime, row: Invoice) -> str | None:
    with runtime.db.session() as s:
        connection = s.get(Connection, row.connection_id)
        if connection is None or not row.external_id:
            return None
        provider = runtime.providers.get(connection.provider)
        link = link_for(runtime, connection)
    return provider.invoice_url(link, row.external_id) if isinstance(provider, Invoicing) else None


def announce(runtime: Runtime, client: WebClient, *, invoice_id: int) -> None:
    """Post the invoice's message where it was raised (a DM to whoever raised it when the bot cannot post there),
    once: its channel and ts are kept for its thread."""
    with runtime.db.session() as s:
        row = s.get(Invoice, invoice_id)
        assert row is not None
        if row.message_ts or row.external_id is None:
            return
        s.expunge(row)
    shown = card(runtime, row, url=invoice_url(runtime, row))
    blocks, text = views.invoice_blocks(shown), views.invoice_text(shown)
    channel = row.channel_id
    try:
        if channel is None or channel.startswith("D"):
            raise _NotHere
        posted = client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        channel, ts = str(posted["channel"]), str(posted["ts"])
    except (_NotHere, SlackApiError) as exc:
        if isinstance(exc, SlackApiError) and exc.response.get("error") not in CANNOT_POST_HERE:
            raise
        opened = client.conversations_open(users=row.created_by)["channel"]["id"]
        ts = direct_message(client, row.created_by, text=text, blocks=blocks)
        channel = str(opened)
    with runtime.db.session() as s:
        s.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(channel_id=channel, message_ts=ts, told_status=str(row.status))
        )


class _NotHere(Exception):
    pass


def refresh_message(runtime: Runtime, client: WebClient, *, invoice_id: int) -> None:
    """Bring the invoice's message up to date (state, amount due, whether it still takes payments)."""
    with runtime.db.session() as s:
        row = s.get(Invoice, invoice_id)
        assert row is not None
        s.expunge(row)
    if not (row.channel_id and row.message_ts):
        return
    shown = card(runtime, row, url=invoice_url(runtime, row))
    try:
        client.chat_update(
            channel=row.channel_id,
            ts=row.message_ts,
            text=views.invoice_text(shown),
            blocks=views.invoice_blocks(shown),
        )
    except SlackApiError as exc:
        log.info("Could not update invoice %s's message: %s", invoice_id, exc.response.get("error"))


def tell_thread(client: WebClient, row: Invoice, text: str) -> None:
    if not (row.channel_id and row.message_ts):
        return
    try:
        client.chat_postMessage(channel=row.channel_id, thread_ts=row.message_ts, text=text)
    except SlackApiError as exc:
        log.info("Could not tell invoice %s's thread: %s", row.id, exc.response.get("error"))


def _news(row: Invoice, status: InvoiceStatus, amount_due: Decimal | None) -> str | None:
    """What changed worth telling: a new state, or (approved) money paid since."""
    if status == InvoiceStatus.APPROVED and row.amount_due is not None and amount_due is not None:
        if amount_due < row.amount_due and amount_due > 0:
            return "part_paid"
    if str(status) != (row.told_status or str(row.status)):
        return str(status)
    return None


def track(runtime: Runtime, *, connection_id: int) -> int:
    """Read back the connection's open invoices changed at the package since the last look, store their state and
    tell each thread what changed; ask again for invoices whose answer was lost. Returns the threads told."""
    now = runtime.clock()
    for invoice_id in _resume(runtime, connection_id=connection_id, now=now):
        _announce_for(runtime, invoice_id)
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
            return 0
        provider = runtime.providers.get(connection.provider)
        if not isinstance(provider, Invoicing):
            return 0
        provider_title = runtime.provider_title(connection.provider)
        link = link_for(runtime, connection)
        tracking = s.get(InvoiceTracking, connection_id)
        since = tracking.checked_at - OVERLAP if tracking else None
        rows = {
            row.external_id: row.id
            for row in s.scalars(
                select(Invoice).where(
                    Invoice.connection_id == connection_id,
                    Invoice.status.in_(OPEN_STATUSES),
                    Invoice.external_id.is_not(None),
                )
            )
            if row.external_id
        }
        team_id = s.scalar(select(Workspace.team_id).where(Workspace.id == connection.workspace_id))
    if not rows:
        _checked(runtime, connection_id, now)
        return 0
    try:
        changed = provider.invoices(link, ids=sorted(rows), since=since)
    except ProviderError as exc:
        log.warning("Could not read back the invoices of connection %s: %s", connection_id, exc.message)
        return 0
    client = runtime.client_for(team_id) if team_id else None
    told = 0
    for made in changed:
        invoice_id = rows.get(made.id)
        if invoice_id is None:
            continue
        with runtime.db.session(write_lock=True) as s:
            row = s.get(Invoice, invoice_id, with_for_update=True)
            assert row is not None
            status = raising.STATUS_OF_STATE[made.state]
            news = _news(row, status, made.amount_due)
            raising.complete(row, made, now=now)
            if news is not None:
                row.told_status = str(status)
            s.flush()
            s.expunge(row)
        if news is not None and client is not None:
            text = views.state_change_text(
                news, provider_title=provider_title, amount_due=made.amount_due, currency=made.currency
            )
            tell_thread(client, row, text)
            refresh_message(runtime, client, invoice_id=invoice_id)
            told += 1
    _checked(runtime, connection_id, now)
    return told


def _checked(runtime: Runtime, connection_id: int, now: datetime) -> None:
    with runtime.db.session(write_lock=True) as s:
        tracking = s.get(InvoiceTracking, connection_id)
        if tracking is None:
            s.add(InvoiceTracking(connection_id=connection_id, checked_at=now))
        else:
            tracking.checked_at = now


def _resume(runtime: Runtime, *, connection_id: int, now: datetime) -> list[int]:
    """Send again (same key) the invoices whose answer was lost; the ones now made, to announce."""
    with runtime.db.session() as s:
        lost = raising.pending_to_resume(s, connection_id=connection_id, now=now)
    made = []
    for invoice_id in lost:
        sent = raising.send(runtime, invoice_id=invoice_id)
        if sent.invoice is not None:
            made.append(invoice_id)
    return made


def _announce_for(runtime: Runtime, invoice_id: int) -> None:
    with runtime.db.session() as s:
        team_id = s.scalar(
            select(Workspace.team_id)
            .join(Invoice, Invoice.workspace_id == Workspace.id)
            .where(Invoice.id == invoice_id)
        )
    client = runtime.client_for(team_id) if team_id else None
    if client is not None:
        announce(runtime, client, invoice_id=invoice_id)


def forget_abandoned_previews(runtime: Runtime) -> int:
    """Previews nobody created within a day: never sent, so nothing at the package; their rows go."""
    with runtime.db.session() as s:
        gone = s.execute(
            delete(Invoice).where(
                Invoice.status == InvoiceStatus.PREVIEW, Invoice.created_at < runtime.clock() - PREVIEW_KEPT
            )
        )
        return int(getattr(gone, "rowcount", 0) or 0)


def track_all(runtime: Runtime) -> None:
    """The scheduler's job: every connection that has invoices of ours still open or pending."""
    forget_abandoned_previews(runtime)
    with runtime.db.session() as s:
        connection_ids = list(
            s.scalars(
                select(Invoice.connection_id)
                .where(Invoice.status.in_((*OPEN_STATUSES, InvoiceStatus.PENDING)))
                .distinct()
            )
        )
    for connection_id in connection_ids:
        try:
            track(runtime, connection_id=connection_id)
        except Exception:
            log.exception("Tracking the invoices of connection %s failed", connection_id)
