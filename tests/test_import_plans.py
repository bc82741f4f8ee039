"""How PostgreSQL runs a page's look-ups of the records we hold (and of their stored sources): by the (connection,
external id) index, once a key,
however large the table, not a scan of every reference for each page (which made a large import's pages slower
as the table grew). SQLite plans from its indexes alone (tests/test_import_records.py covers its results)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import text

from bot.customers.matching import KNOWN, SOURCES, by_ids_lookup
from bot.imports.job import ANALYSE_SAMPLE
from storage.db import Database
from tests.conftest import DATABASES
from tests.test_import_records import setup_connections

ROWS = 60_000


def _md5(n: int) -> str:
    return hashlib.md5(str(n).encode()).hexdigest()


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]


if "postgresql" in DATABASES:
    pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

    @pytest.mark.parametrize("sample", [None, ANALYSE_SAMPLE], ids=["servers-target", "imports-sample"])
    @pytest.mark.parametrize("queries", [KNOWN, SOURCES], ids=["known", "sources"])
    def test_a_pages_lookup_probes_the_index_on_a_populated_table(
        db: Database, queries: tuple[str, str], sample: int | None
    ) -> None:
        """The index is probed with the statistics of the server's own target, and with those of an import's quick
        look at the tables as they grow (`ANALYSE_SAMPLE`)."""
        workspace_id, (connection, other) = setup_connections(db)
        with db.session() as s:  # 60,000 references at each of two connections, then the statistics
            for offset, connection_id in ((0, connection), (ROWS, other)):
                s.execute(
                    text(
                        "INSERT INTO customers (id, workspace_id, name, phones, addresses, active, created_at, "
                        "updated_at) SELECT g, :workspace, 'Customer ' || g, '[]', '[]', true, now(), now() "
                        "FROM generate_series(:first, :last) AS g"
                    ),
                    {"workspace": workspace_id, "first": offset + 1, "last": offset + ROWS},
                )
                s.execute(
                    text(
                        "INSERT INTO customer_references (customer_id, connection_id, external_id, digest, "
                        "source_digest, created_at) SELECT g, :connection, md5(g::text), '', md5(g::text), now() "
                        "FROM generate_series(:first, :last) AS g"
                    ),
                    {"connection": connection_id, "first": offset + 1, "last": offset + ROWS},
                )
        db.refresh_statistics({"customers": (), "customer_references": ()}, sample=sample)
        page = {f"{n:032x}" for n in range(1000)} | {_md5(n) for n in range(1, ROWS, 61)}
        with db.session() as s:
            statement, parameters = by_ids_lookup("postgresql", queries, connection_id=connection, external_ids=page)
            connection_ = s.connection()
            found = connection_.exec_driver_sql(statement, parameters).all()
            explained = connection_.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            value = explained.scalar_one()
            plan = json.loads(value) if isinstance(value, str) else value
        assert {row[0] for row in found} == {_md5(n) for n in range(1, ROWS, 61)}
        nodes = plan_nodes(plan[0]["Plan"])
        on_references = [n for n in nodes if n.get("Relation Name") == "customer_references"]
        assert on_references and all(n["Node Type"] != "Seq Scan" for n in on_references), nodes
        assert {n.get("Index Name") for n in on_references} == {"uq_customer_references_connection_id"}
