"""An import has PostgreSQL look at the customer tables again (ANALYZE) only where it pays: while a run has added
1,000 customers or more, at pages 1, 2, 4, 8..., never for a run that adds fewer. Counted by PostgreSQL itself
(`pg_stat_user_tables.analyze_count`); SQLite has nothing to analyse."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.db import Database
from tests.conftest import DATABASES, RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import command, connected
from tests.imports import finished, quick

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

    def test_a_large_import_analyses_the_customer_tables_at_pages_two_and_four(
        connect_bot: RunningBot, xero: XeroFake
    ) -> None:
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=500, batch_records=1)  # each page a transaction: the rule seen page by page
        before = analyses(connect_bot.db)
        assert imported(connect_bot, xero, tenant, 2000) == 2000  # 500, 1,000, 1,500, 2,000 new after each page
        after = analyses(connect_bot.db)
        assert {t: after[t] - before.get(t, 0) for t in after} == {"customers": 2, "customer_references": 2}

    def test_an_import_adding_fewer_than_a_thousand_analyses_nothing(connect_bot: RunningBot, xero: XeroFake) -> None:
        _, tenant = connected(connect_bot, xero)
        quick(connect_bot, page_size=500)
        before = analyses(connect_bot.db)
        assert imported(connect_bot, xero, tenant, 999) == 999  # two pages, 999 new by the last
        command(connect_bot, "/accounts import", "Starting the import")
        assert finished(connect_bot).count("unchanged") == 999  # and nothing new the second time
        after = analyses(connect_bot.db)
        assert {t: after[t] - before.get(t, 0) for t in after} == {"customers": 0, "customer_references": 0}
