"""The end of every run points customers merged at the package to their survivor (`resolve_merges`): the few merged
references are found through their partial index, on both databases, not by reading every reference of the
connection (0.1 s at 80,000 references, at the end of every run, re-imports and small syncs too)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event, insert, select, text

from bot.customers.matching import resolve_merges
from storage.db import Database
from storage.models import Customer, CustomerReference
from tests.test_import_plans import plan_nodes
from tests.test_import_records import setup_connections

ROWS = 20_000
MERGED = {7: 11, 4_000: 19_999}  # merged customer's number -> its survivor's


def _populated(db: Database) -> int:
    """ROWS customers with a reference each at one connection, two of them merged at the package; returns it."""
    workspace_id, (connection_id, _) = setup_connections(db)
    with db.session() as s:
        s.execute(
            insert(Customer),
            [
                {"id": n, "workspace_id": workspace_id, "name": f"Customer {n}", "phones": [], "addresses": []}
                for n in range(1, ROWS + 1)
            ],
        )
        s.execute(
            insert(CustomerReference),
            [
                {
                    "customer_id": n,
                    "connection_id": connection_id,
                    "external_id": f"x{n}",
                    "digest": "d",
                    "merged_into_external_id": f"x{MERGED[n]}" if n in MERGED else None,
                }
                for n in range(1, ROWS + 1)
            ],
        )
    if db.is_sqlite:
        with db.engine.begin() as c:
            c.execute(text("ANALYZE"))
    else:
        db.refresh_statistics({"customers": (), "customer_references": ()})
    return connection_id


def test_merged_references_are_found_by_their_index(db: Database) -> None:
    connection_id = _populated(db)
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "merged_into_external_id IS NOT NULL" in statement:
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.session() as s:
            assert resolve_merges(s, connection_id=connection_id) == len(MERGED)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    with db.session() as s:
        survivors = dict(s.execute(select(Customer.id, Customer.merged_into_id).where(Customer.id.in_(MERGED))).all())
        assert survivors == MERGED
        [(statement, parameters)] = sent
        c = s.connection()
        if db.is_sqlite:
            steps = [row[-1] for row in c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            on_references = [step for step in steps if " customer_references " in f"{step} "]
            assert any("ix_customer_references_merged" in step for step in on_references), steps
            assert not any(step.startswith("SCAN customer_references") for step in on_references), steps
        else:
            value = c.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
            plan = json.loads(value) if isinstance(value, str) else value
            nodes = [n for n in plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "customer_references"]
            assert "ix_customer_references_merged" in {n.get("Index Name") for n in nodes}, nodes
            assert not any(n["Node Type"] == "Seq Scan" for n in nodes), nodes
