"""QuickBooks Online end to end over real HTTP (the Slack fake, the QuickBooks fake, the bot), for what only
QuickBooks does: throttling as fault 3001 (as JSON, or as XML even inside an HTTP 200), a SystemFault inside an
HTTP 200, and a scheduled sync through change data capture that sees customers deactivated and deleted. The flows
every package shares run for QuickBooks through `package` (test_connect, test_mapping, test_import)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.imports.runs import RunView
from tests.conftest import RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.flows import command, connected, connection_rows
from tests.imports import (
    customer_count,
    customers_by_external_id,
    due_run_claimed,
    finished,
    quick,
    run_view,
    thread_text,
)
from tests.packages_e2e import served, start_with
from tests.providers.packages import Resource
from tests.providers.quickbooks_driver import THROTTLED, QuickBooksDriver
from tests.test_quickbooks_provider import SYSTEM_FAULT, XML_THROTTLE


@pytest.fixture
def quickbooks() -> Iterator[QuickBooksDriver]:
    with served(QuickBooksDriver(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def imports(start_bot: Any, quickbooks: QuickBooksDriver) -> tuple[RunningBot, str]:
    bot = start_with(start_bot, quickbooks)
    _, realm_id = connected(bot, quickbooks)
    return bot, realm_id


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (429, THROTTLED, {}),
        (429, XML_THROTTLE, {"Content-Type": "application/xml"}),
        (200, XML_THROTTLE, {"Content-Type": "application/xml"}),
    ],
    ids=["429-json", "429-xml", "200-xml"],
)
def test_an_import_survives_a_3001_throttle_and_a_fault_inside_a_200(
    imports: tuple[RunningBot, str], quickbooks: QuickBooksDriver, status: int, body: Any, headers: dict[str, str]
) -> None:
    bot, realm_id = imports
    waiter = quick(bot, page_size=100)
    quickbooks.seed_customers(realm_id, 450)
    expected = quickbooks.importable_customers(realm_id)
    quickbooks.fail_next(Resource.CUSTOMERS, status, body, headers=headers)
    quickbooks.fail_next(Resource.CUSTOMERS, 200, SYSTEM_FAULT)

    command(bot, "/accounts import", "Starting the import")
    # A minute is not slept in the worker: the run waits it out in the queue.
    runtime = bot.server.runtime
    queued = bot.slack.wait_for(
        lambda: (v := run_view(bot)).not_before is not None and v.id not in bot.server.imports.running and v
    )
    assert queued.status == "queued" and timedelta(seconds=50) < queued.not_before - runtime.clock()
    later = runtime.clock() + timedelta(seconds=61)
    runtime.clock = lambda: later
    bot.server.imports.tick()  # due now (unless the runner's own tick just claimed it)
    run = finished(bot)

    assert run.status == "succeeded" and run.count("new") == len(expected) == customer_count(bot)
    assert waiter.waits == [] and run.attempts == 1
    assert "QuickBooks asked us to slow down, resuming in" in thread_text(bot, run)
    statuses = [c.status for c in quickbooks.calls(Resource.CUSTOMERS)]
    assert statuses == [status, 200, 200, 200, 200, 200, 200]  # throttled, the fault in a 200, then 5 pages


def test_the_refresh_tokens_lifetimes_are_stored_with_the_connection(
    imports: tuple[RunningBot, str], quickbooks: QuickBooksDriver
) -> None:
    bot, _ = imports
    [row] = connection_rows(bot)
    now = datetime.now(UTC)

    assert row.refresh_expires_at and abs(row.refresh_expires_at - (now + timedelta(days=100))) < timedelta(minutes=5)
    assert row.refresh_hard_expires_at and row.refresh_hard_expires_at > now + timedelta(days=4 * 365)


def test_the_scheduled_sync_reads_changes_through_cdc(
    imports: tuple[RunningBot, str], quickbooks: QuickBooksDriver
) -> None:
    bot, realm_id = imports
    quick(bot)
    ids = quickbooks.seed_customers(realm_id, 60)
    command(bot, "/accounts import", "Starting the import")
    first = finished(bot)
    kept = [i for i in ids if i in set(quickbooks.importable_customers(realm_id))]

    def sync_now() -> RunView:  # an hour passes, here and at QuickBooks
        return finished(bot, due_run_claimed(bot, timedelta(minutes=61), quickbooks.clock))

    quickbooks.clock.advance(120)
    quickbooks.change_customer(realm_id, kept[0], email="changed@example.com")
    quickbooks.archive_customer(realm_id, kept[1])
    quickbooks.fake.delete_customer(realm_id, kept[2])
    name_of_deleted = customers_by_external_id(bot)[kept[2]].name
    before = len(quickbooks.calls(Resource.CUSTOMERS))
    run = sync_now()

    assert (run.kind, run.count("updated"), run.processed) == ("incremental", 3, 3)
    [call] = quickbooks.calls(Resource.CUSTOMERS)[before:]
    assert call.path.endswith("/cdc") and call.query["entities"] == "Customer"
    ours = customers_by_external_id(bot)
    assert ours[kept[0]].email == "changed@example.com" and ours[kept[0]].active
    assert not ours[kept[1]].active
    assert not ours[kept[2]].active and ours[kept[2]].name == name_of_deleted  # only its id came: the rest is kept
    assert customer_count(bot) == first.count("new")
