"""The views kept for modals the bot and a person change at once (`bot.slack.shown_views`), on a real database,
with two `Database`s standing for two processes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack import shown_views
from bot.slack.shown_views import KEEP, LEASE, ShownViews, prune_shown_views
from storage.crypto import SecretBox
from storage.db import Database
from storage.models import ShownView
from tests.conftest import TEST_KEY

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def form(view_hash: str, *, lines: int = 1, typed: str = "") -> dict[str, Any]:
    """A view as Slack shows it (answers and payloads alike), what the person typed in `state`."""
    return {
        "id": "V0FORM0001",
        "hash": view_hash,
        "type": "modal",
        "blocks": [{"type": "input", "block_id": f"line_{n}"} for n in range(lines)],
        "private_metadata": json.dumps({"c": 1, "ch": None, "n": lines}),
        "state": {"values": {"line_0": {"line_0": {"type": "plain_text_input", "value": typed}}}},
    }


@pytest.fixture
def elsewhere(database_url: str, db: Database) -> Iterator[Database]:
    """The same database as another process reaches it: an engine of its own."""
    other = Database(database_url, SecretBox(TEST_KEY))
    yield other
    other.dispose()


def test_what_slack_answered_is_kept_without_what_the_person_typed(db: Database, elsewhere: Database) -> None:
    ShownViews(db, lambda: START).remember(form("h1", typed="Boiler service"))
    known = ShownViews(elsewhere, lambda: START).known("V0FORM0001")
    assert known is not None and known["hash"] == "h1" and len(known["blocks"]) == 1
    assert "state" not in known and "Boiler service" not in str(known)


def test_a_payload_older_than_the_view_kept_leaves_it_and_a_newer_one_replaces_it(
    db: Database, elsewhere: Database
) -> None:
    ours, theirs = ShownViews(db, lambda: START), ShownViews(elsewhere, lambda: START)
    ours.remember(form("h1"))
    ours.remember(form("h2", lines=2))
    with theirs.changing(form("h1")):  # a click made before the person's Slack showed h2
        pass
    assert (ours.known("V0FORM0001") or {})["hash"] == "h2"
    with theirs.changing(form("h3", lines=3)):  # changed by something that does not tell this table (a submission)
        pass
    assert (ours.known("V0FORM0001") or {})["hash"] == "h3"
    with db.session() as s:
        assert s.scalars(select(ShownView.earlier_hashes)).one() == ["h1", "h2"]


def test_a_change_waits_for_one_another_process_is_making(db: Database, elsewhere: Database, mocker: Any) -> None:
    ours, theirs = ShownViews(db, lambda: START), ShownViews(elsewhere, lambda: START)
    order: list[str] = []
    waiting = threading.Event()
    sleep = shown_views.time.sleep
    mocker.patch.object(shown_views.time, "sleep", side_effect=lambda s: (waiting.set(), sleep(s)))

    def other_change() -> None:
        with theirs.changing(form("h1")):
            order.append("theirs")

    with ours.changing(form("h1")):
        thread = threading.Thread(target=other_change)
        thread.start()
        assert waiting.wait(10), "the other change never found the view held"
        order.append("ours")
    thread.join(10)
    assert order == ["ours", "theirs"]


def test_a_change_held_past_its_lease_no_longer_stops_the_next(db: Database, elsewhere: Database) -> None:
    """A call to Slack that hangs, or a process that died while changing the modal."""
    hung = ShownViews(db, lambda: START)
    later = ShownViews(elsewhere, lambda: START + LEASE + timedelta(seconds=1))
    with hung.changing(form("h1")):
        with later.changing(form("h1")):
            with db.session() as s:
                [until] = s.scalars(select(ShownView.held_until)).all()
            assert until == START + 2 * LEASE + timedelta(seconds=1)  # the later change's own lease
    with db.session() as s:
        assert s.scalars(select(ShownView.held_by)).all() == [None]


def test_views_untouched_for_a_day_are_pruned(db: Database) -> None:
    ShownViews(db, lambda: START).remember(form("h1"))
    ShownViews(db, lambda: START + timedelta(hours=20)).remember(form("h1") | {"id": "V0FORM0002"})
    assert prune_shown_views(db, now=START + KEEP) == 0
    assert prune_shown_views(db, now=START + KEEP + timedelta(minutes=1)) == 1
    with db.session() as s:
        assert s.scalars(select(ShownView.view_id)).all() == ["V0FORM0002"]
