"""Connecting Xero from Slack, end to end over real HTTP: the Slack fake, the Xero fake, and the bot."""

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
from providers.base import Link, NeedsReconnect
from storage.models import AuditEvent, Connection, OAuthState, PendingConnection, Workspace
from tests.conftest import ADMIN, STAFF, TEAM, RunningBot
from tests.fakes.blockkit import check_message
from tests.fakes.xero import FakeClock, XeroFake, click_through_consent
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
)


def test_connect_one_organisation_end_to_end(connect_bot: RunningBot, xero: XeroFake) -> None:
    tenant = xero.add_organisation("Acme Plumbing Ltd")
    page = log_in(connect_bot, login_url(connect_bot))
    assert page.status_code == 200
    assert "Connected" in page.text and "Acme Plumbing Ltd" in page.text
    assert "slack.com/app_redirect?team=T0ACME001" in page.text

    message = shown(connect_bot, "now connected to")
    assert "now connected to *Acme Plumbing Ltd* in Xero" in all_text(message)
    assert "Map account codes" in all_text(message)
    assert check_message(message["blocks"]) == []

    [row] = connection_rows(connect_bot)
    assert (row.provider, row.organisation_id, row.status, row.connected_by) == ("xero", tenant, "active", ADMIN)
    assert row.remote_connection_id in {c["id"] for c in xero.connections}
    assert row.access_token_enc and row.refresh_token_enc
    with connect_bot.db.session() as s:
        assert [e.action for e in s.scalars(select(AuditEvent))] == ["connection.connected"]


def test_the_login_asks_for_pkce_state_and_offline_access(connect_bot: RunningBot) -> None:
    url = httpx2.URL(login_url(connect_bot))
    params = dict(url.params)
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert set(params["scope"].split()) >= {"offline_access", "accounting.settings.read", "accounting.contacts.read"}
    assert params["redirect_uri"] == connect_bot.settings.redirect_uri("xero")
    with connect_bot.db.session() as s:
        [state] = s.scalars(select(OAuthState).where(OAuthState.purpose == "connect"))
        assert state.state_digest != params["state"]  # only a digest is kept
        assert state.user_id == ADMIN and state.expires_at - state.created_at == timedelta(minutes=10)


def test_status_and_home_show_the_connection(connect_bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot))
    status = all_text(command(connect_bot, "/accounts status", "Accounting package connected", STAFF))
    assert "Acme Plumbing Ltd" in status and "Xero" in status and f"<@{ADMIN}>" in status and "Healthy" in status
    connect_bot.slack.send_event({"type": "app_home_opened", "user": STAFF, "tab": "home"}, team_id=TEAM)
    home = connect_bot.slack.wait_for(lambda: connect_bot.slack.home_view(STAFF))
    assert "Acme Plumbing Ltd" in str(home) and "Disconnect" in str(home)


def test_several_organisations_offer_a_picker_and_unpicked_ones_are_disconnected(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    first = xero.add_organisation("Acme North")
    second = xero.add_organisation("Acme South")
    third = xero.add_organisation("Acme Holdings")
    page = log_in(connect_bot, login_url(connect_bot))
    assert page.status_code == 200 and "Choose an organisation in Slack" in page.text
    assert connection_rows(connect_bot) == []
    assert len(xero.connections) == 3

    picker = shown(connect_bot, "reaches *3 organisations*")
    assert check_message(picker["blocks"]) == []
    click(connect_bot, picker, button_for(picker, "Acme South"))
    done = becomes(connect_bot, picker, "now connected to")
    assert "now connected to *Acme South*" in all_text(done)
    [row] = connection_rows(connect_bot)
    assert row.organisation_id == second and row.organisation_name == "Acme South"
    assert [c["tenantId"] for c in xero.connections] == [second]
    assert {first, third}.isdisjoint(c["tenantId"] for c in xero.connections)
    with connect_bot.db.session() as s:
        assert s.scalars(select(PendingConnection)).all() == []


def test_only_the_person_who_logged_in_may_pick(connect_bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme North")
    xero.add_organisation("Acme South")
    log_in(connect_bot, login_url(connect_bot))
    picker = shown(connect_bot, "reaches *2 organisations*")
    from bot.connections import connect

    outcome = connect.choose_organisation(
        connect_bot.db,
        provider=connect_bot.server.runtime.providers["xero"],
        pending_id=int(re.search(r"'value': '(\d+):", str(picker["blocks"])).group(1)),  # type: ignore[union-attr]
        organisation_id="anything",
        user_id=STAFF,
        now=connect_bot.server.runtime.clock(),
    )
    assert outcome.kind == "forbidden"
    assert connection_rows(connect_bot) == [] and len(xero.connections) == 2


def test_the_organisation_just_authorised_comes_first(connect_bot: RunningBot, xero: XeroFake) -> None:
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
    connect_bot: RunningBot, xero: XeroFake, tamper: str, title: str, status: int
) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    url = login_url(connect_bot)
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
            xero.fail_next("/connect/token", status=500)
        page = browser.get(callback)
    assert page.status_code == status
    assert title in page.text
    assert [(r.id, r.status) for r in connection_rows(connect_bot)] == [(r.id, r.status) for r in before]
    if tamper in ("cancel", "expired_state", "provider_error"):  # a state of ours: we know whom to tell
        assert "nothing changed" in all_text(shown(connect_bot, "Run `/accounts connect` to try again")).lower()


def test_an_unknown_provider_callback_is_a_clear_404(connect_bot: RunningBot) -> None:
    page = httpx2.get(f"{connect_bot.url}/oauth/sage/callback?code=x&state=y")
    assert page.status_code == 404 and "no accounting package called" in page.text


def test_connect_with_an_unknown_package_names_the_known_ones(connect_bot: RunningBot) -> None:
    message = command(connect_bot, "/accounts connect sage", "I don't know the accounting package")
    assert "`sage`" in message["text"] and "`xero`" in message["text"]


def test_connect_without_a_package_offers_a_picker(connect_bot: RunningBot) -> None:
    message = command(connect_bot, "/accounts connect", "Which accounting package")
    click(connect_bot, message, "connect_xero")
    assert "'url'" in all_text(becomes(connect_bot, message, "Log in to Xero"))


def test_a_non_admin_is_refused_politely_and_audited(connect_bot: RunningBot) -> None:
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


def test_an_added_admin_may_connect_and_the_audit_log_shows_it(connect_bot: RunningBot, xero: XeroFake) -> None:
    command(connect_bot, f"/accounts admins add <@{STAFF}|sam>", "can now connect")
    assert f"<@{STAFF}>" in command(connect_bot, "/accounts admins", "can manage accounts-bot", STAFF)["text"]
    xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot, user_id=STAFF))
    [row] = connection_rows(connect_bot)
    assert row.connected_by == STAFF
    audit = all_text(command(connect_bot, "/accounts audit", "Latest changes"))
    assert "added an admin" in audit and "connected" in audit


def test_disconnect_confirms_then_removes_our_connection_at_xero(connect_bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot))
    question = command(connect_bot, "/accounts disconnect", "Disconnect *Acme Plumbing Ltd*")
    assert len(xero.connections) == 1  # nothing happens before the confirmation
    click(connect_bot, question, "disconnect_confirm")
    done = becomes(connect_bot, question, "Disconnected")
    assert "imported customers stay" in all_text(done)
    assert xero.connections == []
    assert len(xero.revoked) == 1  # nothing else of ours used that log-in
    [row] = connection_rows(connect_bot)
    assert row.status == "disconnected" and row.access_token_enc is None and row.refresh_token_enc is None
    assert "No accounting package is connected" in all_text(command(connect_bot, "/accounts status", "connected"))


def test_disconnect_can_be_cancelled(connect_bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot))
    question = command(connect_bot, "/accounts disconnect", "Disconnect *Acme Plumbing Ltd*")
    click(connect_bot, question, "disconnect_cancel")
    assert "nothing changed" in all_text(becomes(connect_bot, question, "Still connected"))
    assert connection_rows(connect_bot)[0].status == "active" and len(xero.connections) == 1


def test_connect_while_connected_asks_to_replace(connect_bot: RunningBot, xero: XeroFake) -> None:
    first = xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot))
    question = command(connect_bot, "/accounts connect xero", "already connected to *Acme Plumbing Ltd*")
    click(connect_bot, question, "connect_replace")
    url = url_in(becomes(connect_bot, question, "Log in to Xero"))
    second = xero.add_organisation("Acme Gas Ltd")
    log_in(connect_bot, url, organisations=[second])
    picker = shown(connect_bot, "reaches *2 organisations*")  # the same Xero user still reaches the first one
    click(connect_bot, picker, button_for(picker, "Acme Gas Ltd"))
    becomes(connect_bot, picker, "now connected to *Acme Gas Ltd*")
    old, new = connect_bot.slack.wait_for(
        lambda: (rows := connection_rows(connect_bot)) and len(rows) == 2 and rows[0].status == "disconnected" and rows
    )
    assert (old.organisation_id, old.status) == (first, "disconnected")
    assert (new.organisation_id, new.status) == (second, "active")
    assert [c["tenantId"] for c in xero.connections] == [second]
    assert xero.revoked == []  # the new connection uses the same Xero log-in: never revoke it


def test_keeping_the_current_connection_changes_nothing(connect_bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot))
    question = command(connect_bot, "/accounts connect xero", "already connected")
    click(connect_bot, question, "connect_keep")
    becomes(connect_bot, question, "Kept the current connection")
    assert [r.status for r in connection_rows(connect_bot)] == ["active"]


def test_reconnecting_the_same_organisation_keeps_its_row(connect_bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    log_in(connect_bot, login_url(connect_bot))
    [first] = connection_rows(connect_bot)
    question = command(connect_bot, "/accounts connect xero", "already connected")
    click(connect_bot, question, "connect_replace")
    log_in(connect_bot, url_in(becomes(connect_bot, question, "Log in to Xero")))
    message = shown(connect_bot, "reconnected")
    assert "mapping and imported customers are kept" in all_text(message)
    [again] = connection_rows(connect_bot)
    assert again.id == first.id and again.status == "active"


# --- Tokens -----------------------------------------------------------------------------------------------------


def test_refresh_rotates_and_commits_before_use(connect_bot: RunningBot, xero: XeroFake, xero_clock: FakeClock) -> None:
    row, tenant = connected(connect_bot, xero)
    old_refresh = connect_bot.db.box.decrypt(row.refresh_token_enc or "")
    later = connect_bot.server.runtime.clock() + timedelta(minutes=31)
    connect_bot.server.runtime.clock = lambda: later
    xero_clock.advance(31 * 60)
    provider = connect_bot.server.runtime.providers["xero"]
    accounts = provider.accounts(Link(tenant, keeper(connect_bot, row.id), row.remote_connection_id))
    assert accounts
    assert xero.refreshes_spent[old_refresh] == 1
    [after] = connection_rows(connect_bot)
    assert connect_bot.db.box.decrypt(after.refresh_token_enc or "") != old_refresh
    assert after.refreshed_at == later


def test_a_401_mid_call_refreshes_once_and_retries(
    connect_bot: RunningBot, xero: XeroFake, xero_clock: FakeClock
) -> None:
    row, tenant = connected(connect_bot, xero)
    old_refresh = connect_bot.db.box.decrypt(row.refresh_token_enc or "")
    xero_clock.advance(31 * 60)  # Xero thinks the access token expired; our clock does not
    provider = connect_bot.server.runtime.providers["xero"]
    assert provider.accounts(Link(tenant, keeper(connect_bot, row.id), row.remote_connection_id))
    assert xero.refreshes_spent[old_refresh] == 1
    assert sum(xero.refreshes_spent.values()) == 1


def test_invalid_grant_marks_needs_reconnect_and_tells_the_admin(connect_bot: RunningBot, xero: XeroFake) -> None:
    row, _ = connected(connect_bot, xero)
    xero.fail_next("/connect/token", status=400, body={"error": "invalid_grant"})
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


def test_an_idle_connection_is_refreshed_well_before_xero_forgets_it(connect_bot: RunningBot, xero: XeroFake) -> None:
    row, _ = connected(connect_bot, xero)
    runtime = connect_bot.server.runtime
    assert upkeep.keep_connections_alive(runtime) == 0  # just connected: nothing to do
    later = runtime.clock() + timedelta(days=15)
    runtime.clock = lambda: later
    assert upkeep.keep_connections_alive(runtime) == 1
    assert sum(xero.refreshes_spent.values()) == 1
    [after] = connection_rows(connect_bot)
    assert after.refreshed_at == later


def test_no_token_is_readable_in_the_database_or_the_logs(
    connect_bot: RunningBot, xero: XeroFake, xero_clock: FakeClock, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    from bot.redact import install_redaction

    previous = logging.getLogRecordFactory()
    install_redaction(connect_bot.settings.secret_values())
    try:
        with caplog.at_level(logging.DEBUG):
            row, _ = connected(connect_bot, xero)
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
    """Two jobs in two processes both see a 401 at once: exactly one refresh is spent, both get the new token."""
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


def test_uninstalling_the_app_stops_scheduled_work_for_the_workspace(connect_bot: RunningBot, xero: XeroFake) -> None:
    connected(connect_bot, xero)
    runtime = connect_bot.server.runtime
    connect_bot.slack.send_event({"type": "app_uninstalled"}, team_id=TEAM)

    def uninstalled() -> bool:
        with connect_bot.db.session() as s:
            return s.scalars(select(Workspace)).one().uninstalled_at is not None

    connect_bot.slack.wait_for(uninstalled)
    later = runtime.clock() + timedelta(days=15)
    runtime.clock = lambda: later
    assert upkeep.keep_connections_alive(runtime) == 0
    assert sum(xero.refreshes_spent.values()) == 0


def test_the_whole_connect_flow_works_over_socket_mode(start_bot: Any, xero: XeroFake) -> None:
    from tests.flows import xero_settings

    bot: RunningBot = start_bot("socket", **xero_settings(xero))
    xero.register_client(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[bot.settings.redirect_uri("xero")]
    )
    xero.add_organisation("Acme North")
    xero.add_organisation("Acme South")
    page = log_in(bot, login_url(bot))
    assert "Choose an organisation in Slack" in page.text
    picker = shown(bot, "reaches *2 organisations*")
    click(bot, picker, button_for(picker, "Acme North"))
    assert "now connected to *Acme North*" in all_text(becomes(bot, picker, "now connected to"))
    assert [c["tenantName"] for c in xero.connections] == ["Acme North"]


def test_a_picker_left_unanswered_expires_and_disconnects_what_it_granted(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    xero.add_organisation("Acme North")
    xero.add_organisation("Acme South")
    log_in(connect_bot, login_url(connect_bot))
    picker = shown(connect_bot, "reaches *2 organisations*")
    runtime = connect_bot.server.runtime
    assert upkeep.sweep_expired(runtime) == 0  # still within its 30 minutes
    later = runtime.clock() + timedelta(minutes=31)
    runtime.clock = lambda: later
    assert upkeep.sweep_expired(runtime) == 1
    assert xero.connections == []
    with connect_bot.db.session() as s:
        assert s.scalars(select(PendingConnection)).all() == []
    click(connect_bot, picker, button_for(picker, "Acme North"))
    assert "expired" in all_text(becomes(connect_bot, picker, "expired"))
    assert connection_rows(connect_bot) == []


def test_picking_never_disconnects_an_organisation_another_workspace_of_ours_uses(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    """The same Xero user connected another Slack workspace to Acme North; this one picks Acme South."""
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
    becomes(connect_bot, picker, "now connected to *Acme South*")
    assert sorted(c["tenantName"] for c in xero.connections) == ["Acme North", "Acme South"]
