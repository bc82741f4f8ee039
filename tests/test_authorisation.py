"""Who may do what (`bot.slack.authorisation.authorised`), and the workspace row the middleware makes once for the
listeners, against the Slack fake and a real database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from bot import workspaces
from bot.slack.authorisation import StaffRight, authorised
from bot.slack.requests import Asker
from bot.views.connect import refused_blocks
from bot.workspaces import permissions
from storage.models import AuditEvent, Workspace
from tests.conftest import ADMIN, BOT_TOKEN, CHANNEL, STAFF, TEAM, RunningBot

ADDED = "U0ADDED01"  # not a Slack admin, but added with `/accounts admins add`


@pytest.mark.parametrize(
    ("user", "staff_may_import", "staff_allowed", "allowed"),
    [
        (ADMIN, False, False, True),  # a Slack admin
        (ADDED, False, False, True),
        (STAFF, False, False, False),
        (STAFF, True, False, False),  # staff may import, but this is something else
        (STAFF, False, True, False),  # importing, but the workspace has not let staff
        (STAFF, True, True, True),
    ],
)
def test_authorised_lets_admins_through_and_tells_and_audits_anyone_else(
    start_bot: Any, user: str, staff_may_import: bool, staff_allowed: bool, allowed: bool
) -> None:
    bot: RunningBot = start_bot("http")
    bot.slack.add_user(TEAM, ADDED, "ann")
    runtime = bot.server.runtime
    with runtime.db.session(write_lock=True) as s:  # the bot's runner may write meanwhile
        workspace = workspaces.ensure(s, team_id=TEAM)
        workspace.staff_may_import = staff_may_import
        permissions.add_admin(s, workspace_id=workspace.id, user_id=ADDED, added_by=ADMIN)
        workspace_id = workspace.id
    asker = Asker(
        runtime=runtime, client=runtime.web_client(BOT_TOKEN), team_id=TEAM, workspace_id=workspace_id, user_id=user
    )
    said: list[dict[str, Any]] = []

    answer = authorised(
        asker,
        lambda **kw: said.append(kw),
        action="import",
        what="import customers",
        staff=StaffRight.IMPORT if staff_allowed else None,
    )

    assert answer is allowed
    with runtime.db.session() as s:
        refusals = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "refused")))
    if allowed:
        assert said == [] and refusals == []
    else:
        assert said == [{"blocks": refused_blocks("import customers"), "text": "Only admins can import customers."}]
        [refusal] = refusals
        assert (refusal.workspace_id, refusal.actor_user_id) == (workspace_id, user)
        assert refusal.detail == {"action": "import"}


def answered(bot: RunningBot, text: str) -> None:
    """Send the command and wait for its answer: in the acknowledgement, or through the response URL."""
    before = len(bot.slack.responses)
    if not bot.slack.send_command(text, user_id=STAFF, channel_id=CHANNEL).ack:
        bot.slack.wait_for(lambda: len(bot.slack.responses) > before)


def test_the_middleware_makes_the_workspace_row_once_and_listeners_only_read_it(bot: RunningBot) -> None:
    """One insert of the workspace, in a transaction that touches nothing else (the middleware's, not a listener's),
    however many requests come."""
    transactions: list[list[str]] = []
    current: dict[int, list[str]] = {}

    def began(conn: Any) -> None:
        current[id(conn)] = []
        transactions.append(current[id(conn)])

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = " ".join(statement.split()).upper()
        if id(conn) in current and not words.startswith("BEGIN"):
            current[id(conn)].append(words)

    event.listen(bot.db.engine, "begin", began)
    event.listen(bot.db.engine, "before_cursor_execute", seen)
    try:
        for text in ("/accounts status", "/accounts admins", "/accounts status"):
            answered(bot, text)
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", seen)
        event.remove(bot.db.engine, "begin", began)
    [made] = [t for t in transactions if any(s.startswith("INSERT INTO WORKSPACES") for s in t)]
    assert all(" WORKSPACES " in f"{s} " for s in made), made
    with bot.db.session() as s:
        assert s.scalars(select(Workspace.team_id)).all() == [TEAM]
