"""`/accounts customers [search]`'s query: a name or email containing the words, `%` and `_` matched as themselves."""

from __future__ import annotations

import pytest

from bot import workspaces
from bot.customers.lists import Scope, search
from storage.db import Database
from storage.models import Customer

NAMES = ["a_b Plumbing", "axb Electrical", "100% Drains", "1000 Roofing", "Ann Smith"]


@pytest.fixture
def workspace_id(db: Database) -> int:
    with db.session() as s:
        workspace = workspaces.ensure(s, team_id="T0SEARCH1")
        for name in NAMES:
            email = name.split()[0].lower() + "@example.com"
            s.add(Customer(workspace_id=workspace.id, name=name, email=email, email_key=email))
        return workspace.id


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("a_b", ["a_b Plumbing"]),  # `_` is not "any one character": axb is not found
        ("100%", ["100% Drains"]),  # `%` is not "anything": 1000 Roofing is not found
        ("ANN", ["Ann Smith"]),
        ("axb@example", ["axb Electrical"]),  # the email too
        ("", sorted(NAMES, key=str.casefold)),
    ],
)
def test_search_matches_what_was_typed(db: Database, workspace_id: int, query: str, found: list[str]) -> None:
    with db.session() as s:
        # nothing connected: every customer is one kept from an earlier connection
        customers, total = search(
            s,
            workspace_id=workspace_id,
            connection_id=None,
            scope=Scope.EARLIER,
            query=query or None,
            offset=0,
            limit=20,
        )
        assert [c.name for c in customers] == found and total == len(found)
