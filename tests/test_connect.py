"""Connecting an accounting package from Slack, end to end over real HTTP: the Slack fake, the package's fake, and
the bot. Tests taking `package` run once per package; those taking `xero` are about Xero's own behaviour (its
/connections listing the organisations of earlier log-ins, revoking a log-in, its idle refresh-token lifetime)
or about no package in particular."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select, text

from bot.connections import upkeep
from bot.schedule import CHORES, do_chores
from providers.base import Link, NeedsReconnect
from storage.models import AuditEvent, Connection, OAuthState, PendingConnection, Workspace
from tests.conftest import ADMIN, STAFF, TEAM, RunningBot
from tests.fakes.blockkit import check_message
from tests.fakes.oauth2 import click_through_consent
from tests.fakes.xero import FakeClock, XeroFake
from tests.flows import (
    CLIENT_ID,
    CLIENT_SECRET,
    all_text,
    becomes,
    button_for,
    click,
    command,
    connected,
    connection_rows,
    keeper,
    log_in,
    login_url,
    shown,
    url_in,
    xero_driver,
)
from tests.packages_e2e import start_with
from tests.providers.packages import PackageDriver, Resource
from tests.test_mapping import choices, open_modal, save, xero_ids

# For the packages whose one consent may connect several organisations (Xero's may): the picker.
several_organisations = pytest.mark.several_organisations


def test_connect_one_organisation_end_to_end(package_bot: RunningBot, package: PackageDriver) -> None:
    bot = package_bot
    organisation = package.add_organisation("Acme Plumbing Ltd")
    page = log_in(bot, login_url(bot, package=package.name))
    assert page.status_code == 200
    assert "Connected" in page.text and "Acme Plumbing Ltd" in page.text
    assert "slack.com/app_redirect?team=T0ACME001" in page.text

    message = shown(bot, "now connected to")
    assert f"now connected to Acme Plumbing Ltd in {package.title}" in all_text(message)
    assert "Map account codes" in all_text(message)
    assert check_message(message["blocks"]) == []

    [row] = connection_rows(bot)
    assert (row.provider, row.organisation_id, row.status, row.connected_by) == (
        package.name,
        organisation,
        "active",
        ADMIN,
    )
    assert package.connected() == {organisation}
    assert row.remote_connection_id == package.connection_id(organisation)
    assert row.access_token_enc and row.refresh_token_enc
    with bot.db.session() as s:
        assert [e.action for e in s.scalars(select(AuditEvent))] == ["connection.connected"]


def test_the_login_asks_for_pkce_state_and_offline_access(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    url = httpx2.URL(login_url(connect_bot, package=package.name))
    params = dict(url.params)
    if package.pkce:
        assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert set(params["scope"].split()) >= set(package.scopes.split())  # Xero: offline_access and the two reads
    assert params["redirect_uri"] == connect_bot.settings.redirect_uri(package.name)
    with connect_bot.db.session() as s:
        [state] = s.scalars(select(OAuthState).where(OAuthState.purpose == "connect"))
        assert state.state_digest != params["state"]  # only a digest is kept
        assert state.user_id == ADMIN and state.expires_at - state.created_at == timedelta(minutes=10)


def test_status_and_home_show_the_connection(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    connected(connect_bot, package)
    status = all_text(command(connect_bot, "/accounts status", "Accounting package connected", STAFF))
    assert "Acme Plumbing Ltd" in status and package.title in status and f"<@{ADMIN}>" in status and "Healthy" in status
    connect_bot.slack.send_event({"type": "app_home_opened", "user": STAFF, "tab": "home"}, team_id=TEAM)
    home = connect_bot.slack.wait_for(lambda: connect_bot.slack.home_view(STAFF))
    assert "Acme Plumbing Ltd" in str(home) and "disconnect_start" not in str(home)  # a member: no admin controls
    connect_bot.slack.send_event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, team_id=TEAM)
    home = connect_bot.slack.wait_for(lambda: connect_bot.slack.home_view(ADMIN))
    assert "Acme Plumbing Ltd" in str(home) and "disconnect_start" in str(home)


@several_organisations
def test_several_organisations_offer_a_picker_and_unpicked_ones_are_disconnected(
    package_bot: RunningBot, package: PackageDriver
) -> None:
    connect_bot = package_bot
    first = package.add_organisation("Acme North")
    second = package.add_organisation("Acme South")
    third = package.add_organisation("Acme Holdings")
    page = log_in(connect_bot, login_url(connect_bot, package=package.name))
    assert page.status_code == 200 and "Choose an organisation in Slack" in page.text
    assert connection_rows(connect_bot) == []
    assert package.connected() == {first, second, third}

    picker = shown(connect_bot, "reaches *3 organisations*")
    assert check_message(picker["blocks"]) == []
    click(connect_bot, picker, button_for(picker, "Acme South"))
    done = becomes(connect_bot, picker, "now connected to")
    assert "now connected to Acme South" in all_text(done)
    [row] = connection_rows(connect_bot)
    assert row.organisation_id == second and row.organisation_name == "Acme South"
    assert package.connected() == {second}
    assert {first, third}.isdisjoint(package.connected())
    with connect_bot.db.session() as s:
        assert s.scalars(select(PendingConnection)).all() == []


@several_organisations
def test_only_the_person_who_logged_in_may_pick(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    package.add_organisation("Acme North")
    package.add_organisation("Acme South")
    log_in(connect_bot, login_url(connect_bot, package=package.name))
    picker = shown(connect_bot, "reaches *2 organisations*")
    from bot.connections import connect

    outcome = connect.choose_organisation(
        connect_bot.db,
        provider=connect_bot.server.runtime.providers[package.name],
        pending_id=int(re.search(r"'value': '(\d+):", str(picker["blocks"])).group(1)),  # type: ignore[union-attr]
        organisation_id="anything",
        user_id=STAFF,
        now=connect_bot.server.runtime.clock(),
    )
    assert outcome.kind == "forbidden"
    assert connection_rows(connect_bot) == [] and len(package.connected()) == 2


def test_the_organisation_just_authorised_comes_first(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Xero only: its /connections lists the organisations of the user's earlier log-ins too."""
    xero.add_organisation("Older Org")
    log_in(connect_bot, login_url(connect_bot))  # connects the only organisation there is
    newer = xero.add_organisation("Newer Org")
    message = command(connect_bot, "/accounts connect xero", "already connected")
    click(connect_bot, message, "connect_replace")
    url = url_in(becomes(connect_bot, message, "Log in to Xero"))
    log_in(connect_bot, url, organisations=[newer])
    # Xero lists both organisations of this user; the one this log-in authorised leads the picker.
    text_ = all_text(shown(connect_bot, "reaches *2 organisations*"))
    assert text_.index("Newer Org") < text_.index("Older Org")
    assert "Newer Org (just authorised)" in text_


@pytest.mark.parametrize(
    ("tamper", "title", "status"),
    [
        ("cancel", "Log-in cancelled", 200),
        ("forged_state", "This link is not valid", 400),
        ("reused_state", "This link was already used", 400),
        ("expired_state", "This link has expired", 400),
        ("provider_error", "The log-in did not complete", 400),
    ],
)
def test_refusals_give_a_clear_page_and_change_nothing(
    package_bot: RunningBot, package: PackageDriver, tamper: str, title: str, status: int
) -> None:
    connect_bot = package_bot
    package.add_organisation("Acme Plumbing Ltd")
    url = login_url(connect_bot, package=package.name)
    before = connection_rows(connect_bot)
    with httpx2.Client(timeout=10) as browser:
        answer = click_through_consent(browser, url, button="Cancel" if tamper == "cancel" else "Allow access")
        callback = answer.headers["location"]
        if tamper == "forged_state":
            callback = re.sub(r"state=[^&]+", "state=forged-state-value", callback)
        elif tamper == "reused_state":
            browser.get(callback)
            before = connection_rows(connect_bot)
        elif tamper == "expired_state":
            later = connect_bot.server.runtime.clock() + timedelta(minutes=11)
            connect_bot.server.runtime.clock = lambda: later
        elif tamper == "provider_error":
            package.fail_next(Resource.TOKEN, 500)
        page = browser.get(callback)
    assert page.status_code == status
    assert title in page.text
    assert [(r.id, r.status) for r in connection_rows(connect_bot)] == [(r.id, r.status) for r in before]
    if tamper in ("cancel", "expired_state", "provider_error"):  # a state of ours: we know whom to tell
        assert "nothing changed" in all_text(shown(connect_bot, "Run `/accounts connect` to try again")).lower()


def test_an_unknown_provider_callback_is_a_clear_404(connect_bot: RunningBot) -> None:
    """About no package in particular: run once, with Xero set up."""
    page = httpx2.get(f"{connect_bot.url}/oauth/sage/callback?code=x&state=y")
    assert page.status_code == 404 and "no accounting package called" in page.text


def test_connect_with_an_unknown_package_names_the_known_ones(connect_bot: RunningBot) -> None:
    """About no package in particular: run once, with Xero set up."""
    message = command(connect_bot, "/accounts connect sage", "I don't know the accounting package")
    assert "`sage`" in message["text"] and "`xero`" in message["text"]


def test_connect_without_a_package_offers_a_picker(connect_bot: RunningBot) -> None:
    """Run once, with Xero the package set up."""
    message = command(connect_bot, "/accounts connect", "Which accounting package")
    click(connect_bot, message, "connect_provider:xero")
    assert "'url'" in all_text(becomes(connect_bot, message, "Log in to Xero"))


def test_a_non_admin_is_refused_politely_and_audited(connect_bot: RunningBot) -> None:
    """About no package in particular: run once, with Xero set up."""
    for text_ in (
        "/accounts connect xero",
        "/accounts disconnect",
        "/accounts audit",
        f"/accounts admins add <@{STAFF}|sam>",
    ):
        message = command(connect_bot, text_, "Only Slack workspace admins and owners", STAFF)
        assert "'url'" not in str(message)
    with connect_bot.db.session() as s:
        refused = [e for e in s.scalars(select(AuditEvent)) if e.action == "refused"]
        assert len(refused) == 4 and {e.actor_user_id for e in refused} == {STAFF}
        assert s.scalars(select(OAuthState)).all() == []


def test_an_added_admin_may_connect_and_the_audit_log_shows_it(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    command(connect_bot, f"/accounts admins add <@{STAFF}|sam>", "can now connect")
    assert f"<@{STAFF}>" in command(connect_bot, "/accounts admins", "can manage accounts-bot", STAFF)["text"]
    package.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot, user_id=STAFF, package=package.name))
    [row] = connection_rows(connect_bot)
    assert row.connected_by == STAFF
    audit = all_text(command(connect_bot, "/accounts audit", "Latest changes"))
    assert f"<@{ADMIN}> let <@{STAFF}> manage accounts-bot" in audit
    assert f"<@{STAFF}> connected {package.title} (Acme Plumbing Ltd)" in audit


def test_disconnect_confirms_then_removes_our_connection_at_the_package(
    package_bot: RunningBot, package: PackageDriver
) -> None:
    connect_bot = package_bot
    _, organisation = connected(connect_bot, package)
    question = command(connect_bot, "/accounts disconnect", "Disconnect Acme Plumbing Ltd")
    assert len(package.connected()) == 1  # nothing happens before the confirmation
    click(connect_bot, question, "disconnect_confirm")
    done = becomes(connect_bot, question, "Disconnected")
    assert "imported customers stay" in all_text(done)
    # MYOB has no way for an app to remove itself: the file's administrator does, in MYOB
    assert package.connected() == (set() if package.removes_link_on_disconnect else {organisation})
    # nothing else of ours used that log-in: revoked, where the package revokes on disconnecting
    assert package.revocations() == (1 if package.revokes_on_disconnect else 0)
    [row] = connection_rows(connect_bot)
    assert row.status == "disconnected" and row.access_token_enc is None and row.refresh_token_enc is None
    status = all_text(command(connect_bot, "/accounts status", "Disconnected."))
    assert "(Acme Plumbing Ltd) was disconnected" in status and "connected yet" not in status


def test_disconnect_can_be_cancelled(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    connected(connect_bot, package)
    question = command(connect_bot, "/accounts disconnect", "Disconnect Acme Plumbing Ltd")
    click(connect_bot, question, "disconnect_cancel")
    assert "nothing changed" in all_text(becomes(connect_bot, question, "Still connected"))
    assert connection_rows(connect_bot)[0].status == "active" and len(package.connected()) == 1


def test_connect_while_connected_asks_to_replace(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Xero only: the same Xero log-in still reaches the first organisation, so a picker follows, and the log-in
    the new connection shares is never revoked."""
    first = xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot))
    question = command(connect_bot, "/accounts connect xero", "already connected to Acme Plumbing Ltd")
    click(connect_bot, question, "connect_replace")
    url = url_in(becomes(connect_bot, question, "Log in to Xero"))
    second = xero.add_organisation("Acme Gas Ltd")
    log_in(connect_bot, url, organisations=[second])
    picker = shown(connect_bot, "reaches *2 organisations*")  # the same Xero user still reaches the first one
    click(connect_bot, picker, button_for(picker, "Acme Gas Ltd"))
    becomes(connect_bot, picker, "now connected to Acme Gas Ltd")
    old, new = connect_bot.slack.wait_for(
        lambda: (rows := connection_rows(connect_bot)) and len(rows) == 2 and rows[0].status == "disconnected" and rows
    )
    assert (old.organisation_id, old.status) == (first, "disconnected")
    assert (new.organisation_id, new.status) == (second, "active")
    assert [c["tenantId"] for c in xero.connections] == [second]
    assert xero.revoked == []  # the new connection uses the same Xero log-in: never revoke it


def test_keeping_the_current_connection_changes_nothing(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    connected(connect_bot, package)
    question = command(connect_bot, f"/accounts connect {package.name}", "already connected")
    click(connect_bot, question, "connect_keep")
    becomes(connect_bot, question, "Kept the current connection")
    assert [r.status for r in connection_rows(connect_bot)] == ["active"]


def test_reconnecting_the_same_organisation_keeps_its_row(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    first, _ = connected(connect_bot, package)
    question = command(connect_bot, f"/accounts connect {package.name}", "already connected")
    click(connect_bot, question, "connect_replace")
    log_in(connect_bot, url_in(becomes(connect_bot, question, f"Log in to {package.title}")))
    message = shown(connect_bot, "reconnected")
    assert "imported customers are kept" in all_text(message) and "Next step" in all_text(message)  # never mapped
    [again] = connection_rows(connect_bot)
    assert again.id == first.id and again.status == "active"


def test_reconnecting_a_mapped_organisation_asks_for_nothing_more(connect_bot: RunningBot, xero: XeroFake) -> None:
    _, tenant = connected(connect_bot, xero)
    save(connect_bot, open_modal(connect_bot), choices(xero_ids(xero, tenant)))
    question = command(connect_bot, "/accounts connect xero", "already connected")
    click(connect_bot, question, "connect_replace")
    log_in(connect_bot, url_in(becomes(connect_bot, question, "Log in to Xero")))
    told = all_text(shown(connect_bot, "reconnected"))
    assert "account mapping and imported customers are kept" in told and "nothing more to do" in told
    assert "Next step" not in told and "open_mapping" not in told


# --- Tokens -----------------------------------------------------------------------------------------------------


def test_refresh_rotates_and_commits_before_use(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    row, organisation = connected(connect_bot, package)
    old_refresh = connect_bot.db.box.decrypt(row.refresh_token_enc or "")
    # Xero: 31 minutes; QuickBooks rotates its refresh token only once it is a day old
    expired = max(package.access_token_ttl, package.refresh_token_kept_for) + 60
    later = connect_bot.server.runtime.clock() + timedelta(seconds=expired)
    connect_bot.server.runtime.clock = lambda: later
    package.clock.advance(expired)
    provider = connect_bot.server.runtime.providers[package.name]
    accounts = provider.accounts(Link(organisation, keeper(connect_bot, row.id), row.remote_connection_id))
    assert accounts
    assert package.oauth.refreshes_spent[old_refresh] == 1
    [after] = connection_rows(connect_bot)
    assert connect_bot.db.box.decrypt(after.refresh_token_enc or "") != old_refresh
    assert after.refreshed_at == later


def test_a_401_mid_call_refreshes_once_and_retries(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    row, organisation = connected(connect_bot, package)
    old_refresh = connect_bot.db.box.decrypt(row.refresh_token_enc or "")
    package.clock.advance(package.access_token_ttl + 60)  # the package thinks the access token expired; we do not
    provider = connect_bot.server.runtime.providers[package.name]
    assert provider.accounts(Link(organisation, keeper(connect_bot, row.id), row.remote_connection_id))
    assert package.oauth.refreshes_spent[old_refresh] == 1
    assert package.refreshes_spent() == 1


def test_invalid_grant_marks_needs_reconnect_and_tells_the_admin(
    package_bot: RunningBot, package: PackageDriver
) -> None:
    connect_bot = package_bot
    row, _ = connected(connect_bot, package)
    package.fail_next(Resource.TOKEN, 400, {"error": "invalid_grant"})
    with pytest.raises(NeedsReconnect):
        keeper(connect_bot, row.id).refresh_now()
    [after] = connection_rows(connect_bot)
    assert after.status == "needs_reconnect"
    dms = connect_bot.slack.messages(connect_bot.slack.dm_channel_id(TEAM, ADMIN))
    assert any("needs attention" in all_text(m) for m in dms)
    assert "Needs reconnecting" in all_text(command(connect_bot, "/accounts status", "Accounting package"))
    with pytest.raises(NeedsReconnect):  # no more refreshes are tried on a dead connection
        keeper(connect_bot, row.id).access_token()
    assert len([m for m in connect_bot.slack.messages(connect_bot.slack.dm_channel_id(TEAM, ADMIN))]) == len(dms)


def test_a_call_s_token_is_refused_for_a_connection_removed_meanwhile(
    package_bot: RunningBot, package: PackageDriver
) -> None:
    """Each call reads its connection's token again: a connection disconnected (by another process, say) or deleted
    since the keeper was made gives no token, and an expired one is refreshed before it is used."""
    row, _ = connected(package_bot, package)
    tokens = keeper(package_bot, row.id)
    first = tokens.access_token()
    assert first and tokens.access_token() == first and package.refreshes_spent() == 0
    with package_bot.db.session() as s:
        s.get_one(Connection, row.id).access_expires_at = package_bot.server.runtime.clock() + timedelta(seconds=30)
    assert tokens.access_token() != first and package.refreshes_spent() == 1  # within the margin: refreshed
    with package_bot.db.session() as s:
        s.get_one(Connection, row.id).status = "disconnected"
    with pytest.raises(NeedsReconnect, match="removed"):
        tokens.access_token()
    with package_bot.db.session() as s:
        s.delete(s.get_one(Connection, row.id))
    with pytest.raises(NeedsReconnect, match="removed"):
        tokens.access_token()


def test_an_idle_connection_is_refreshed_well_before_xero_forgets_it(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Xero only: 15 days idle is due against Xero's 60-day refresh-token lifetime."""
    row, _ = connected(connect_bot, xero)
    runtime = connect_bot.server.runtime
    assert upkeep.keep_connections_alive(runtime) == 0  # just connected: nothing to do
    later = runtime.clock() + timedelta(days=15)
    runtime.clock = lambda: later
    assert upkeep.keep_connections_alive(runtime) == 1
    assert sum(xero.refreshes_spent.values()) == 1
    [after] = connection_rows(connect_bot)
    assert after.refreshed_at == later


def test_the_keep_alive_is_done_by_one_process_per_period(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Each process looks for due chores; only the first to find the keep-alive due does it (Xero: 15 days idle)."""
    connected(connect_bot, xero)
    runtime = connect_bot.server.runtime
    keep_alive = tuple(c for c in CHORES if c.name == "keep_connections_alive")
    later = runtime.clock() + timedelta(days=15)
    runtime.clock = lambda: later
    assert do_chores(runtime, owner="process-1", chores=keep_alive) == ["keep_connections_alive"]
    assert do_chores(runtime, owner="process-2", chores=keep_alive) == []  # the same period: taken
    assert sum(xero.refreshes_spent.values()) == 1
    much_later = later + keep_alive[0].every
    runtime.clock = lambda: much_later
    assert do_chores(runtime, owner="process-2", chores=keep_alive) == ["keep_connections_alive"]


def test_no_token_is_readable_in_the_database_or_the_logs(
    package_bot: RunningBot, package: PackageDriver, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    from bot.redact import install_redaction

    connect_bot = package_bot

    previous = logging.getLogRecordFactory()
    install_redaction(connect_bot.settings.secret_values())
    try:
        with caplog.at_level(logging.DEBUG):
            row, _ = connected(connect_bot, package)
            keeper(connect_bot, row.id).refresh_now()
    finally:
        logging.setLogRecordFactory(previous)
    [row] = connection_rows(connect_bot)
    secrets = [
        connect_bot.db.box.decrypt(row.access_token_enc or ""),
        connect_bot.db.box.decrypt(row.refresh_token_enc or ""),
    ]
    with connect_bot.db.engine.connect() as c:
        dump = " ".join(
            str(r)
            for t in ("connections", "oauth_states", "pending_connections", "audit_events")
            for r in c.execute(text(f"SELECT * FROM {t}"))
        )
    logs = caplog.text
    for secret in [*secrets, CLIENT_SECRET]:
        assert secret not in dump
        assert secret not in logs
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(f.read_bytes() for f in (path, path.with_name(path.name + "-wal")) if f.exists())
        for secret in secrets:
            assert secret.encode() not in raw


def test_two_processes_refreshing_one_connection_spend_one_refresh(
    connect_bot: RunningBot, xero: XeroFake, xero_clock: FakeClock, database_url: str
) -> None:
    """Two jobs in two processes both see a 401 at once: exactly one refresh is spent, both get the new token.
    Xero only: the worker builds a Xero provider (tests/refresh_worker.py)."""
    import subprocess
    import sys

    from tests.conftest import TEST_KEY

    row, _ = connected(connect_bot, xero)
    rejected = connect_bot.db.box.decrypt(row.access_token_enc or "")
    args = [database_url, TEST_KEY, xero.url, str(row.id), rejected, CLIENT_ID, CLIENT_SECRET]  # type: ignore[attr-defined]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.refresh_worker", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert sum(xero.refreshes_spent.values()) == 1
    digests = {line for out in outputs for line in out.splitlines() if line.startswith("token-digest")}
    assert len(digests) == 1  # both processes use the same, newly stored access token
    [after] = connection_rows(connect_bot)
    assert connect_bot.db.box.decrypt(after.access_token_enc or "") != rejected


def test_uninstalling_the_app_stops_scheduled_work_for_the_workspace(
    package_bot: RunningBot, package: PackageDriver
) -> None:
    connect_bot = package_bot
    connected(connect_bot, package)
    runtime = connect_bot.server.runtime
    connect_bot.slack.send_event({"type": "app_uninstalled"}, team_id=TEAM)

    def uninstalled() -> bool:
        with connect_bot.db.session() as s:
            return s.scalars(select(Workspace)).one().uninstalled_at is not None

    connect_bot.slack.wait_for(uninstalled)
    later = runtime.clock() + timedelta(days=15)
    runtime.clock = lambda: later
    assert upkeep.keep_connections_alive(runtime) == 0
    assert package.refreshes_spent() == 0


@several_organisations
def test_the_whole_connect_flow_works_over_socket_mode(start_bot: Any, package: PackageDriver) -> None:
    bot = start_with(start_bot, package, "socket")
    north = package.add_organisation("Acme North")
    package.add_organisation("Acme South")
    page = log_in(bot, login_url(bot, package=package.name))
    assert "Choose an organisation in Slack" in page.text
    picker = shown(bot, "reaches *2 organisations*")
    click(bot, picker, button_for(picker, "Acme North"))
    assert "now connected to Acme North" in all_text(becomes(bot, picker, "now connected to"))
    assert package.connected() == {north}


@several_organisations
def test_a_picker_left_unanswered_expires_and_disconnects_what_it_granted(
    package_bot: RunningBot, package: PackageDriver
) -> None:
    connect_bot = package_bot
    package.add_organisation("Acme North")
    package.add_organisation("Acme South")
    log_in(connect_bot, login_url(connect_bot, package=package.name))
    picker = shown(connect_bot, "reaches *2 organisations*")
    runtime = connect_bot.server.runtime
    assert upkeep.sweep_expired(runtime) == 0  # still within its 30 minutes
    later = runtime.clock() + timedelta(minutes=31)
    runtime.clock = lambda: later
    assert upkeep.sweep_expired(runtime) == 1
    assert package.connected() == set()
    with connect_bot.db.session() as s:
        assert s.scalars(select(PendingConnection)).all() == []
    click(connect_bot, picker, button_for(picker, "Acme North"))
    assert "expired" in all_text(becomes(connect_bot, picker, "expired"))
    assert connection_rows(connect_bot) == []


def test_picking_never_disconnects_an_organisation_another_workspace_of_ours_uses(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    """Xero only (its connections are per organisation, shared by our log-ins): the same Xero user connected
    another Slack workspace to Acme North; this one picks Acme South."""
    xero.add_organisation("Acme North")
    log_in(connect_bot, login_url(connect_bot))
    [north] = connection_rows(connect_bot)
    with connect_bot.db.session() as s:  # move it to a second workspace, as if connected from there
        other = Workspace(team_id="T0OTHER001", name="Other")
        s.add(other)
        s.flush()
        s.get(Connection, north.id).workspace_id = other.id  # type: ignore[union-attr]
    xero.add_organisation("Acme South")
    log_in(connect_bot, login_url(connect_bot))
    picker = shown(connect_bot, "reaches *2 organisations*")
    click(connect_bot, picker, button_for(picker, "Acme South"))
    becomes(connect_bot, picker, "now connected to Acme South")
    assert sorted(c["tenantName"] for c in xero.connections) == ["Acme North", "Acme South"]


def test_a_wrong_client_secret_is_not_offered_a_retry(start_bot: Any, xero: XeroFake, xero_clock: FakeClock) -> None:
    """The package refuses our app's own credentials at the token endpoint: Slack and the page say it is a setting
    to fix, and never suggest `/accounts connect` again (which would fail the same way)."""
    driver = xero_driver(xero, xero_clock)
    bot: RunningBot = start_bot("http", **driver.bot_settings(client_id=CLIENT_ID, client_secret="not-the-secret"))
    driver.register_client(
        redirect_uris=[bot.settings.redirect_uri("xero")], client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    xero.add_organisation("Acme Plumbing Ltd")
    page = log_in(bot, login_url(bot))
    assert page.status_code == 400 and "accounts-bot doctor" in page.text
    told = all_text(shown(bot, "did not recognise accounts-bot's client id and secret"))
    assert "trying again won't help" in told and "to try again" not in told
    assert connection_rows(bot) == []
