"""App Home stays current: whoever opened it lately gets it republished when a connection, the mapping, an import
or a setting changes. End to end over real HTTP, and the viewer bookkeeping on the databases directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.slack.home import MAX_VIEWERS, VIEWER_WINDOW, RoleCache, recent_viewers, refresh_homes, remember_viewer
from providers.base import NeedsReconnect
from storage.db import Database
from storage.models import HomeViewer, Workspace
from tests.conftest import ADMIN, STAFF, TEAM, RunningBot
from tests.fakes.blockkit import check_view
from tests.fakes.slack.records import Call
from tests.fakes.xero import FakeClock, XeroFake
from tests.flows import click, command, connected, keeper, log_in, login_url
from tests.imports import customer_count, due_run_claimed, expected_customers, finished, quick
from tests.test_mapping import choices, open_modal, save, xero_ids

NEVER = "U0NEVER01"  # in the workspace, never opened App Home


def open_home(bot: RunningBot, user: str) -> dict[str, Any]:
    before = len(publishes(bot, user))
    bot.slack.send_event({"type": "app_home_opened", "user": user, "tab": "home"}, team_id=TEAM)
    bot.slack.wait_for(lambda: len(publishes(bot, user)) > before)
    home = bot.slack.home_view(user)
    assert home is not None
    return home


def publishes(bot: RunningBot, user: str) -> list[Call]:
    return [c for c in bot.slack.calls("views.publish") if c.args.get("user_id") == user]


def home_shows(bot: RunningBot, user: str, needle: str) -> dict[str, Any]:
    """Wait until the person's published Home contains `needle`."""
    home: dict[str, Any] = bot.slack.wait_for(
        lambda: (view := bot.slack.home_view(user)) and needle in str(view) and view,
        message=f"{user}'s Home never showed {needle!r}",
    )
    assert check_view(home) == []
    return home


@pytest.fixture
def viewers(connect_bot: RunningBot) -> RunningBot:
    """The admin and a staff member have App Home open; a third person never opened it."""
    connect_bot.slack.add_user(TEAM, NEVER, "nina")
    open_home(connect_bot, STAFF)
    open_home(connect_bot, ADMIN)
    return connect_bot


def test_connecting_and_disconnecting_reach_everyone_looking_at_home(viewers: RunningBot, xero: XeroFake) -> None:
    bot = viewers
    for user in (ADMIN, STAFF):
        assert "No accounting package is connected yet" in str(bot.slack.home_view(user))

    xero.add_organisation("Acme Plumbing Ltd")
    log_in(bot, login_url(bot))  # the OAuth callback completes the connection
    for user in (ADMIN, STAFF):
        home_shows(bot, user, "Acme Plumbing Ltd")

    confirm = command(bot, "/accounts disconnect", "Disconnect?")
    click(bot, confirm, "disconnect_confirm")
    for user in (ADMIN, STAFF):
        home_shows(bot, user, "Disconnected.")
    assert publishes(bot, NEVER) == []


def test_an_import_finishing_reaches_everyone_looking_at_home(viewers: RunningBot, xero: XeroFake) -> None:
    bot = viewers
    _, tenant = connected(bot, xero)
    quick(bot)
    xero.seed_contacts(tenant, 30)
    expected = expected_customers(xero, tenant)
    home_shows(bot, STAFF, "Customers:* 0 imported")
    xero.latency = 0.3  # the import outlasts the refresh made when it starts: only its end can show the result

    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert run.status == "succeeded" and customer_count(bot) == len(expected) > 0
    for user in (ADMIN, STAFF):
        home = home_shows(bot, user, f"Customers:* {len(expected)} imported")
        assert "Last import" in str(home)
    # Home showed the import running when it started; only the end of the run can have brought the result.
    assert any("*Import:* Importing customers" in str(c.args["view"]) for c in publishes(bot, STAFF))
    assert publishes(bot, NEVER) == []


def test_a_scheduled_sync_republishes_home_only_when_it_changed_something(
    viewers: RunningBot, xero: XeroFake, xero_clock: FakeClock
) -> None:
    bot = viewers
    _, tenant = connected(bot, xero)
    quick(bot)
    xero.seed_contacts(tenant, 30)
    command(bot, "/accounts import", "Starting the import")
    finished(bot)
    home_shows(bot, STAFF, f"Customers:* {customer_count(bot)} imported")

    def sync_now() -> None:  # an hour passes, here and at Xero
        finished(bot, due_run_claimed(bot, timedelta(minutes=61), xero_clock))

    before = len(publishes(bot, STAFF))
    sync_now()  # nothing changed at Xero
    assert len(publishes(bot, STAFF)) == before

    xero_clock.advance(120)
    xero.add_contact(tenant, "Brand New Customer", EmailAddress="new@example.com", IsCustomer=True)
    sync_now()
    for user in (ADMIN, STAFF):
        home_shows(bot, user, f"Customers:* {customer_count(bot)} imported")
    assert len(publishes(bot, STAFF)) == before + 1


def test_a_connection_needing_reconnect_reaches_everyone_looking_at_home(viewers: RunningBot, xero: XeroFake) -> None:
    bot = viewers
    row, _ = connected(bot, xero)
    home_shows(bot, STAFF, "Acme Plumbing Ltd")
    xero.fail_next("/connect/token", status=400, body={"error": "invalid_grant"})
    with pytest.raises(NeedsReconnect):
        keeper(bot, row.id).refresh_now()
    for user in (ADMIN, STAFF):
        home_shows(bot, user, "Needs reconnecting")
    assert publishes(bot, NEVER) == []


def test_saving_the_mapping_reaches_everyone_looking_at_home(viewers: RunningBot, xero: XeroFake) -> None:
    bot = viewers
    _, tenant = connected(bot, xero)
    home_shows(bot, STAFF, "Account codes are not mapped yet")
    save(bot, open_modal(bot), choices(xero_ids(xero, tenant)))  # from `/accounts map`, not from Home
    for user in (ADMIN, STAFF):
        home_shows(bot, user, "Account codes mapped for 6 categories")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("/accounts sync off", "*Sync:* off"),
        ("/accounts channel here", "*Reports go to:* <#C0GENERAL1>"),
        ("/accounts import contacts all", "*Contacts imported as customers:* every contact ("),
    ],
)
def test_a_setting_changed_by_command_reaches_everyone_looking_at_home(
    viewers: RunningBot, xero: XeroFake, text: str, needle: str
) -> None:
    bot = viewers
    connected(bot, xero)
    assert needle not in str(home_shows(bot, STAFF, "Acme Plumbing Ltd"))
    bot.slack.send_command(text, user_id=ADMIN, channel_id="C0GENERAL1")
    home_shows(bot, STAFF, needle)
    home_shows(bot, ADMIN, needle)


def test_who_may_import_changing_republishes_home(viewers: RunningBot, xero: XeroFake) -> None:
    bot = viewers
    connected(bot, xero)
    before = len(publishes(bot, STAFF))
    command(bot, "/accounts import staff on", "Everyone in the workspace may now import")
    bot.slack.wait_for(lambda: len(publishes(bot, STAFF)) > before)


def test_a_refused_publish_does_not_stop_the_others(viewers: RunningBot, xero: XeroFake) -> None:
    bot = viewers
    connected(bot, xero)
    home_shows(bot, STAFF, "Acme Plumbing Ltd")
    # The admin opened Home last, so theirs is republished first: it is the one Slack refuses.
    bot.slack.fail_next("views.publish", "internal_error")
    command(bot, "/accounts sync off", "*Scheduled sync:* off")
    home_shows(bot, STAFF, "*Sync:* off")
    refused = publishes(bot, ADMIN)[-1]
    assert not refused.ok and refused.response["error"] == "internal_error"
    assert "*Sync:* off" not in str(bot.slack.home_view(ADMIN))


def test_only_people_who_opened_home_lately_get_it(viewers: RunningBot) -> None:
    bot = viewers
    with bot.db.session() as s:  # the staff member last looked at Home 31 days ago
        s.execute(
            update(HomeViewer)
            .where(HomeViewer.user_id == STAFF)
            .values(last_opened_at=datetime.now(UTC) - VIEWER_WINDOW - timedelta(days=1))
        )
    mark = len(bot.slack.calls("views.publish"))
    runtime = bot.server.runtime
    assert refresh_homes(runtime, runtime.client_for(TEAM), team_id=TEAM) == 1
    assert [c.args["user_id"] for c in bot.slack.calls("views.publish")[mark:]] == [ADMIN]


def test_a_workspace_nobody_opened_home_in_publishes_nothing(connect_bot: RunningBot) -> None:
    runtime = connect_bot.server.runtime
    assert refresh_homes(runtime, runtime.client_for(TEAM), team_id=TEAM) == 0
    assert refresh_homes(runtime, None, team_id=TEAM) == 0  # the app was uninstalled: no client
    assert connect_bot.slack.calls("views.publish") == []


# --- Remembering viewers, on the databases ------------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def workspace_id(db: Database) -> int:
    with db.session() as s:
        workspace = Workspace(team_id="T1")
        s.add(workspace)
        s.flush()
        return workspace.id


def test_opening_home_again_moves_the_one_row_forward(db: Database) -> None:
    ws = workspace_id(db)
    for when in (NOW - timedelta(days=3), NOW):
        with db.session() as s:
            remember_viewer(s, workspace_id=ws, user_id="U1", now=when)
    with db.session() as s:
        [row] = s.scalars(select(HomeViewer))
        assert (row.user_id, row.last_opened_at) == ("U1", NOW)


def test_recent_viewers_are_the_latest_hundred_within_thirty_days(db: Database) -> None:
    ws = workspace_id(db)
    with db.session() as s:
        elsewhere = Workspace(team_id="T2")
        s.add(elsewhere)
        s.flush()
        other = elsewhere.id
        for n in range(MAX_VIEWERS + 5):
            remember_viewer(s, workspace_id=ws, user_id=f"U{n:03d}", now=NOW - timedelta(minutes=n))
        remember_viewer(s, workspace_id=ws, user_id="ULONGAGO", now=NOW - VIEWER_WINDOW - timedelta(seconds=1))
        remember_viewer(s, workspace_id=other, user_id="UELSEWHERE", now=NOW)
    with db.session() as s:
        people = recent_viewers(s, workspace_id=ws, now=NOW)
        assert people == [f"U{n:03d}" for n in range(MAX_VIEWERS)]
        assert recent_viewers(s, workspace_id=other, now=NOW) == ["UELSEWHERE"]


ADMIN_CONTROLS = ("open_mapping", "disconnect_start", "sync_off", "sync_on", "notification_channel", "connect_provider")


def test_members_see_what_they_may_do_and_admins_every_control(viewers: RunningBot, xero: XeroFake) -> None:
    bot = viewers
    assert "connect_provider" in str(bot.slack.home_view(ADMIN))
    assert "connect_provider" not in str(bot.slack.home_view(STAFF))
    connected(bot, xero)
    admin = home_shows(bot, ADMIN, "Turn sync off")
    for control in ("open_mapping", "disconnect_start", "sync_off", "notification_channel", "import_start"):
        assert control in str(admin), control
    member = home_shows(bot, STAFF, "Admins connect the package")
    assert not [c for c in (*ADMIN_CONTROLS, "import_start") if f"'{c}" in str(member)], member
    command(bot, "/accounts import staff on", "Everyone in the workspace may now import")
    member = home_shows(bot, STAFF, "You can import customers here")
    assert "import_start" in str(member) and not [c for c in ADMIN_CONTROLS if f"'{c}" in str(member)]
    command(bot, "/accounts admins add <@U0STAFF01|sam>", "can now connect")
    open_home(bot, STAFF)
    assert "open_mapping" in str(home_shows(bot, STAFF, "Turn sync off"))


def test_slack_roles_are_kept_for_their_time_and_never_beyond_their_number() -> None:
    now = [0.0]
    roles = RoleCache(ttl=timedelta(minutes=10), size=3, clock=lambda: now[0])
    roles.put(("T1", "U1"), True)
    roles.put(("T1", "U2"), False)
    assert (roles.get(("T1", "U1")), roles.get(("T1", "U2")), roles.get(("T2", "U1"))) == (True, False, None)
    now[0] = 599.0
    roles.put(("T1", "U1"), True)  # asked again: kept another ten minutes
    now[0] = 601.0
    assert roles.get(("T1", "U2")) is None  # past its time: asked of Slack again
    roles.put(("T1", "U3"), False)
    assert len(roles) == 2  # U2's old answer went when U3's came
    for user in ("U4", "U5", "U6"):
        roles.put(("T1", user), True)
    assert len(roles) == 3 and roles.get(("T1", "U6")) is True and roles.get(("T1", "U1")) is None  # oldest first
    now[0] = 10_000.0
    roles.put(("T9", "U1"), False)
    assert len(roles) == 1  # every answer past its time is gone
