"""An import has PostgreSQL look at the customer tables again (ANALYZE) only where it pays: while a run has added
1,000 customers or more, at pages 1, 2, 4, 8..., never for a run that adds fewer, nor at a run's last page where it
looked at the tables at half their size or more; at the columns its look-ups use, in a thread beside the pages, which
go on being written meanwhile. Counted by PostgreSQL itself
(`pg_stat_user_tables.analyze_count`, `pg_stats`, `pg_stat_activity`); SQLite has nothing to analyse."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text

from bot.imports.job import ANALYSE_SAMPLE, ANALYSED
from storage.db import Database
from tests.conftest import DATABASES, RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import command, connected
from tests.imports import finished, quick, run_view

if "postgresql" in DATABASES:  # SQLite plans from its indexes alone: there is nothing to analyse
    pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

    def analyses(db: Database) -> dict[str, int]:
        """How many times each customer table was analysed by hand (not by autovacuum)."""
        with db.engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT relname, analyze_count FROM pg_stat_user_tables "
                    "WHERE relname IN ('customers', 'customer_references')"
                )
            ).all()
        return {name: int(count) for name, count in rows}

    def imported(bot: RunningBot, xero: XeroFake, tenant: str, contacts: int) -> int:
        for n in range(contacts):
            xero.add_contact(tenant, f"Customer {n:05d}", IsCustomer=True)
        command(bot, "/accounts import", "Starting the import")
        return finished(bot).count("new")

    def test_a_large_import_analyses_the_customer_tables_at_page_two_not_at_its_last_page_four(
        connect_bot: RunningBot, xero: XeroFake
    ) -> None:
        """Page 4 is the last: the run's look-ups are over, and it looked at the tables at page 2, half their size."""
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=500, batch_records=1)  # each page a transaction: the rule seen page by page
        before = analyses(connect_bot.db)
        assert imported(connect_bot, xero, tenant, 2000) == 2000  # 500, 1,000, 1,500, 2,000 new after each page
        after = analyses(connect_bot.db)
        assert {t: after[t] - before.get(t, 0) for t in after} == {"customers": 1, "customer_references": 1}

    def test_an_import_that_never_looked_at_the_tables_does_at_its_last_page(
        connect_bot: RunningBot, xero: XeroFake
    ) -> None:
        """A run of one page of 1,000 new customers: its end is its only look, and the tables are left looked at."""
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=1000)
        before = analyses(connect_bot.db)
        assert imported(connect_bot, xero, tenant, 1000) == 1000
        after = analyses(connect_bot.db)
        assert {t: after[t] - before.get(t, 0) for t in after} == {"customers": 1, "customer_references": 1}

    def test_an_import_looks_at_a_sample_of_3000_rows_not_the_servers_30000(
        connect_bot: RunningBot, xero: XeroFake
    ) -> None:
        """A look at the tables as they grow is for their sizes and rough spreads: a statistics target of 10
        (`ANALYSE_SAMPLE`) took a sixth of the server's 100 at 80,000 customers. PostgreSQL's histogram of a column
        whose every value differs has one bound more than the target it was made with."""
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=500, batch_records=1)
        # analysed at page 2, its last and its first look: no autovacuum can come after the import's look (a run's
        # last look made before its end may be followed by autovacuum's, with the server's target)
        assert imported(connect_bot, xero, tenant, 1000) == 1000
        with connect_bot.db.engine.connect() as c:
            bounds, by_hand, by_autovacuum = c.execute(
                text(
                    "SELECT cardinality(s.histogram_bounds::text::text[]), t.last_analyze, t.last_autoanalyze "
                    "FROM pg_stats AS s JOIN pg_stat_user_tables AS t ON t.relname = s.tablename "
                    "WHERE s.tablename = 'customer_references' AND s.attname = 'external_id'"
                )
            ).one()
        assert by_autovacuum is None or by_hand > by_autovacuum  # the statistics are the import's
        assert ANALYSE_SAMPLE == 10 and bounds == ANALYSE_SAMPLE + 1  # 101 with the server's target

    def test_an_import_adding_fewer_than_a_thousand_analyses_nothing(connect_bot: RunningBot, xero: XeroFake) -> None:
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=500)
        before = analyses(connect_bot.db)
        assert imported(connect_bot, xero, tenant, 999) == 999  # two pages, 999 new by the last
        command(connect_bot, "/accounts import", "Starting the import")
        assert finished(connect_bot).count("unchanged") == 999  # and nothing new the second time
        after = analyses(connect_bot.db)
        assert {t: after[t] - before.get(t, 0) for t in after} == {"customers": 0, "customer_references": 0}

    def test_the_columns_the_lookups_use_are_analysed(connect_bot: RunningBot, xero: XeroFake) -> None:
        """ANALYZE of every column took twice as long: the import names the columns its look-ups use (PostgreSQL
        then looks at those alone, and counts the table's rows either way); autovacuum looks at all of them later."""
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=500, batch_records=1)  # its one look at page 2, its last: the table's size then
        sent: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.startswith("ANALYZE"):
                sent.append(statement)

        event.listen(connect_bot.db.engine, "before_cursor_execute", seen)
        try:
            assert imported(connect_bot, xero, tenant, 1000) == 1000
        finally:
            event.remove(connect_bot.db.engine, "before_cursor_execute", seen)
        with connect_bot.db.engine.connect() as c:
            reltuples = c.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'customers'")).scalar()
        named = ", ".join(f"{table} ({', '.join(columns)})" for table, columns in ANALYSED.items())
        assert sent and set(sent) == {f"ANALYZE {named}"}
        assert reltuples == 1000  # the size the plans hinge on

    def test_pages_go_on_being_written_while_the_tables_are_analysed(connect_bot: RunningBot, xero: XeroFake) -> None:
        """An ANALYZE kept waiting (here by a lock a test session holds; in a real import, by the time it takes)
        holds up no page: the run writes its last page meanwhile, and tells its end once the ANALYZE is done."""
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=500, batch_records=1)
        for n in range(3000):
            xero.add_contact(tenant, f"Customer {n:05d}", IsCustomer=True)
        before = analyses(connect_bot.db)
        with connect_bot.db.engine.connect() as holder:
            holder.begin()
            holder.execute(text("LOCK TABLE customers IN SHARE UPDATE EXCLUSIVE MODE"))  # what ANALYZE needs
            command(connect_bot, "/accounts import", "Starting the import")

            def written() -> bool:
                return run_view(connect_bot).pages == 6

            connect_bot.slack.wait_for(written, timeout=30, message="the pages stopped at the ANALYZE")
            with connect_bot.db.engine.connect() as c:
                waiting = c.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'ANALYZE%' AND wait_event_type = 'Lock'"
                    )
                ).scalar()
            assert waiting == 1  # page 2's, with page 4's asked for after it
            assert run_view(connect_bot).id in connect_bot.server.imports.running  # its end not told yet
            holder.rollback()
        assert finished(connect_bot).count("new") == 3000
        after = analyses(connect_bot.db)
        assert {t: after[t] - before.get(t, 0) for t in after} == {"customers": 2, "customer_references": 2}
