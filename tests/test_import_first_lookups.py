"""A connection's first import looks up only the ids it may have written already (`bot.imports.job._Written`): a
page of new contacts is written without a look-up, and a contact that comes again on a later page (as Xero's walk
repeats one when contacts are added during it) is found, not written twice."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select

from bot.imports.job import _Written
from providers.base import Page
from storage.models import Customer, CustomerReference
from tests.conftest import RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import command, connected
from tests.imports import customer_count, finished, quick


@given(st.lists(st.text(max_size=64), max_size=300), st.lists(st.text(max_size=64), max_size=50))
def test_the_filter_never_misses_an_id_it_was_given(added: list[str], others: list[str]) -> None:
    written = _Written()
    written.add(added)
    assert written.maybe(added) == added
    assert set(written.maybe(others)) >= set(others) & set(added)


@given(st.lists(st.text(max_size=8), max_size=300), st.lists(st.text(max_size=8), max_size=300))
def test_adding_ids_says_which_may_have_come_before(first: list[str], then: list[str]) -> None:
    """A page's ids added in the pass that finds those written before it (or earlier on the page), as a page's
    look-up needs them: never one missed."""
    written = _Written()
    repeated = {i for n, i in enumerate(first) if i in first[:n]}
    assert set(written.add(first)) >= repeated
    assert set(written.add(then)) >= set(then) & set(first)
    assert written.maybe(first + then) == first + then


@contextlib.contextmanager
def look_ups(bot: RunningBot) -> Iterator[list[str]]:
    """The pages' look-ups of known records (`matching._known`) run meanwhile."""
    seen: list[str] = []

    def look_up(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM customer_references AS r" in statement:
            seen.append(statement)

    event.listen(bot.db.engine, "after_cursor_execute", look_up)
    try:
        yield seen
    finally:
        event.remove(bot.db.engine, "after_cursor_execute", look_up)


class Repeating:
    """Xero's provider, with the first page's first customer again on the third page, and its second customer
    again, renamed, on the fourth (read here where the page came encoded)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider
        self.first: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def customers(self, link: Any, **kw: Any) -> Iterator[Page]:
        for n, page in enumerate(self._provider.customers(link, **kw)):
            customers, skipped = page.records()
            if n == 0:
                self.first = [c for c in customers if c.active and not c.merged_into and not c.is_supplier]
            extra = {2: [self.first[0]], 3: [dataclasses.replace(self.first[1], name="Renamed Midwalk Ltd")]}
            yield dataclasses.replace(page, customers=[*customers, *extra.get(n, [])], skipped=skipped, encoded=None)


def test_a_first_import_looks_up_only_what_it_may_have_written(connect_bot: RunningBot, xero: XeroFake) -> None:
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 600)
    quick(bot, page_size=50)
    providers = bot.server.runtime.providers
    providers["xero"] = repeating = Repeating(providers["xero"])  # type: ignore[assignment]
    with look_ups(bot) as looked_up:
        command(bot, "/accounts import", "Starting the import")
        run = finished(bot)

    assert run.status == "succeeded" and run.pages == 12, run.error
    assert len(looked_up) == 2  # the two pages with a contact seen before; not the ten others
    assert run.count("unreadable") == 0 and run.count("new") == customer_count(bot)
    again, renamed = repeating.first[0], repeating.first[1]
    with bot.db.session() as s:
        names = dict(
            s.execute(
                select(CustomerReference.external_id, Customer.name)
                .join(Customer, Customer.id == CustomerReference.customer_id)
                .where(CustomerReference.external_id.in_([again.id, renamed.id]))
            ).all()
        )
    # each stored once: the repeat unchanged, the renamed one updated
    assert names == {again.id: again.name, renamed.id: "Renamed Midwalk Ltd"}
    assert (run.count("unchanged"), run.count("updated")) == (1, 1)


def test_a_connection_with_records_looks_every_page_up(connect_bot: RunningBot, xero: XeroFake) -> None:
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 120)
    quick(bot, page_size=50)
    command(bot, "/accounts import", "Starting the import")
    assert finished(bot).status == "succeeded"
    with look_ups(bot) as looked_up:
        command(bot, "/accounts import", "Starting the import")
        run = finished(bot)
    assert run.status == "succeeded" and len(looked_up) == run.pages == 3
    assert run.count("unchanged") == customer_count(bot)
