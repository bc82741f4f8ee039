"""What an import's pages freed goes back to the system when the import waits long enough for its next page
(`bot.imports.job.GIVE_BACK_AFTER`: a package slower than the writes), and once it ended. A page here already, or
coming within that time, reuses it instead: given back, the system would map and zero the same memory again for the
next page's work (`bot.imports.memory`: some 1,000 page faults a page of 1,000 contacts in the bot's process, 1.2 µs
of the kernel's time each)."""

from __future__ import annotations

import threading
from typing import Any

from pytest_mock import MockerFixture
from sqlalchemy import event

from bot.imports import memory
from tests.conftest import RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import command, connected
from tests.imports import finished, quick, run_view
from tests.test_import_batches import AllHere, HeldAfterFirstPage, wrapped_xero


def test_pages_already_here_keep_what_the_page_before_freed(
    connect_bot: RunningBot, xero: XeroFake, mocker: MockerFixture
) -> None:
    """Three pages, the second and third here before the first is written: the memory goes back once, at the end."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 300)
    # all three and the walk's end read ahead without the import taking one
    quick(bot, page_size=100, batch_records=1, pages_ahead=4, read_apart_from=None)
    all_here = wrapped_xero(bot, AllHere)
    trims = mocker.patch.object(memory, "_TRIM", side_effect=memory._TRIM)  # glibc's malloc_trim, counted

    def hold(*_: Any) -> None:
        """The import's statements once the pages are read, until all of them are queued for it."""
        if threading.current_thread().name.startswith("import_") and all_here.read.is_set():
            assert all_here.handed.wait(30), "the walk never handed out its last page"

    event.listen(bot.db.engine, "before_cursor_execute", hold)
    try:
        command(bot, "/accounts import", "Starting the import")
        run = finished(bot)
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", hold)

    assert (run.status, run.pages, run.processed) == ("succeeded", 3, 300)
    assert trims.call_count == 1


def test_a_page_still_on_its_way_has_the_memory_go_back_meanwhile(
    connect_bot: RunningBot, xero: XeroFake, mocker: MockerFixture
) -> None:
    """Two pages, the second held back: the first page's memory goes back while the second is waited for, the
    second's at the end."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 150)
    quick(bot, page_size=100, batch_records=1, read_apart_from=None)
    held = wrapped_xero(bot, HeldAfterFirstPage)
    trims = mocker.patch.object(memory, "_TRIM", side_effect=memory._TRIM)

    command(bot, "/accounts import", "Starting the import")
    try:
        bot.slack.wait_for(lambda: run_view(bot).pages == 1, timeout=30)
        bot.slack.wait_for(lambda: trims.call_count == 1, timeout=30, message="nothing went back while it waited")
    finally:
        held.release.set()
    run = finished(bot)

    assert (run.status, run.pages, run.processed) == ("succeeded", 2, 150)
    assert trims.call_count == 2
