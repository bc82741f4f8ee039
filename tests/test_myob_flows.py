"""MYOB end to end, where its behaviour differs from the other packages: its 403 rate limits (a second's wait told
in the thread; the daily cap pausing the import until it resumes by itself), a refresh token MYOB no longer knows
(`invalid_request`) asking for a reconnect that then works, a company file removed in MYOB, a person who is not the
file's administrator, and the callback page naming the company file. The flows every package shares run for MYOB
through the `package` parametrisation (tests/packages_e2e.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from bot.slack.manifest import build_manifest
from providers.base import NeedsReconnect
from tests.conftest import ADMIN, APP_TOKEN, BOT_TOKEN, TEAM, TEST_KEY, RunningBot
from tests.fakes.oauth2 import FakeClock, click_through_consent
from tests.flows import (
    all_text,
    becomes,
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
from tests.imports import customer_count, customers_by_external_id, finished, parent, quick, run_view, thread_text
from tests.packages_e2e import served, start_with
from tests.providers.myob_driver import MyobDriver
from tests.providers.packages import Resource
from tests.test_cli import run_cli


@pytest.fixture
def myob() -> Iterator[MyobDriver]:
    with served(MyobDriver(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def bot(start_bot: Any, myob: MyobDriver) -> RunningBot:
    return start_with(start_bot, myob)


def test_the_callback_page_and_slack_name_the_company_file(bot: RunningBot, myob: MyobDriver) -> None:
    myob.add_organisation("Harbour Electrical Pty Ltd")
    page = log_in(bot, login_url(bot, package="myob"))
    assert "accounts-bot is now connected to Harbour Electrical Pty Ltd in MYOB." in page.text
    shown(bot, "now connected to Harbour Electrical Pty Ltd in MYOB")
    [row] = connection_rows(bot)
    assert (row.organisation_name, row.provider) == ("Harbour Electrical Pty Ltd", "myob")


def test_someone_who_is_not_the_files_administrator_cannot_connect_it(bot: RunningBot, myob: MyobDriver) -> None:
    theirs = myob.fake.add_company_file("Someone Else's File", administrator=False)
    url = login_url(bot, package="myob")
    with httpx2.Client() as browser:
        answer = click_through_consent(browser, url, organisations=[theirs])
    assert answer.status_code == 403 and "Only an administrator" in answer.text
    assert connection_rows(bot) == []


def test_the_per_second_limit_is_waited_out_and_told_in_the_thread(bot: RunningBot, myob: MyobDriver) -> None:
    _, file_id = connected(bot, myob)
    quick(bot)
    myob.seed_customers(file_id, 1500)
    myob.fake.limit_next("/Contact/Customer", daily=False, times=3)
    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert run.status == "succeeded" and run.count("new") == len(myob.importable_customers(file_id))
    assert bot.server.imports.waiter.waits == [1.0, 1.0, 1.0]
    assert thread_text(bot, run).count("MYOB asked us to slow down, resuming in 1 s (its per-second limit).") == 3


def test_the_daily_limit_pauses_the_import_and_it_resumes_by_itself(bot: RunningBot, myob: MyobDriver) -> None:
    _, file_id = connected(bot, myob)
    quick(bot)
    myob.seed_customers(file_id, 1500)
    runtime = bot.server.runtime
    myob.fake.limit_next("/Contact/Customer", daily=True)
    command(bot, "/accounts import", "Starting the import")
    paused = bot.slack.wait_for(
        lambda: (v := run_view(bot)).not_before is not None and v.id not in bot.server.imports.running and v
    )
    assert paused.status == "queued" and paused.not_before - runtime.clock() > timedelta(minutes=59)
    assert "MYOB has reached its daily limit, so the import is paused" in thread_text(bot, paused)
    later = runtime.clock() + timedelta(hours=1, seconds=1)
    runtime.clock = lambda: later
    assert bot.server.imports.tick() in ([paused.id], [])
    run = finished(bot)
    assert run.id == paused.id and run.status == "succeeded"
    assert run.count("new") == len(myob.importable_customers(file_id)) == customer_count(bot)


def test_a_refresh_token_myob_no_longer_knows_asks_for_a_reconnect_that_works(
    bot: RunningBot, myob: MyobDriver
) -> None:
    row, file_id = connected(bot, myob)
    myob.fail_next(Resource.TOKEN, 400, {"error": "invalid_request"})  # MYOB's answer to a dead refresh token
    with pytest.raises(NeedsReconnect, match="MYOB no longer accepts the saved log-in"):
        keeper(bot, row.id).refresh_now()
    [after] = connection_rows(bot)
    assert after.status == "needs_reconnect"
    dms = bot.slack.messages(bot.slack.dm_channel_id(TEAM, ADMIN))
    assert any("needs attention" in all_text(m) for m in dms)

    question = command(bot, "/accounts connect myob", "already connected")
    click(bot, question, "connect_replace")
    page = log_in(bot, url_in(becomes(bot, question, "Log in to MYOB")))
    assert "Acme Plumbing Ltd in MYOB" in page.text
    [again] = connection_rows(bot)
    assert again.id == row.id and again.status == "active" and again.organisation_id == file_id


def test_a_removed_company_file_stops_the_import_with_words_an_admin_understands(
    bot: RunningBot, myob: MyobDriver
) -> None:
    _, file_id = connected(bot, myob)
    quick(bot)
    myob.seed_customers(file_id, 10)
    myob.fake.remove_company_file(file_id)
    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert run.status == "failed"
    text = parent(bot, run)["text"] + thread_text(bot, run)
    assert "MYOB could not find the company file" in text


def test_doctor_checks_myobs_settings_at_its_token_endpoint(
    slack: Any, database_url: str, myob: MyobDriver, tmp_path: Path
) -> None:
    client = myob.register_client(client_id="doctor-key", client_secret="doctor-secret")
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": f"{slack.url}/api/",
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEY": TEST_KEY,
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),  # this checkout's code, not an installed copy's
        **{k.upper(): str(v) for k, v in myob.bot_settings(client_id="doctor-key", client_secret="x").items()},
    }
    bad = run_cli("doctor", env=env, cwd=tmp_path)
    assert bad.returncode == 1 and "✗ myob: MYOB did not recognise accounts-bot's client id and secret" in bad.stdout
    assert "fix: copy the client id and secret from MYOB into MYOB_CLIENT_ID and MYOB_CLIENT_SECRET" in bad.stdout
    good = run_cli("doctor", env=env | {"MYOB_CLIENT_SECRET": client.client_secret or ""}, cwd=tmp_path)
    assert "✓ myob: MYOB accepts the client id and secret" in good.stdout, good.stdout + good.stderr
    zone = run_cli("doctor", env=env | {"MYOB_TIME_ZONE": "Sydney"}, cwd=tmp_path)
    assert zone.returncode != 0 and "MYOB_TIME_ZONE must be a time zone name" in zone.stdout + zone.stderr


def test_help_and_the_manifest_say_myob_works(bot: RunningBot) -> None:
    answer = all_text(command(bot, "/accounts help", "accounts-bot"))
    assert "connects your accounting package (Xero, MYOB" in answer and "/accounts connect xero|myob" in answer
    assert "(Xero, MYOB" in build_manifest()["display_information"]["long_description"]


def test_cards_without_a_usable_uid_are_skipped_and_the_rest_imported(bot: RunningBot, myob: MyobDriver) -> None:
    _, file_id = connected(bot, myob)
    quick(bot, page_size=10)
    myob.seed_customers(file_id, 25)
    for raw in (
        {"CompanyName": "No Uid Ltd", "IsActive": True},
        {"UID": None, "CompanyName": "Null Uid Ltd", "IsActive": True},
        {"UID": "x" * 65, "CompanyName": "Long Uid Ltd", "IsActive": True},
        None,
    ):
        myob.fake.add_raw_customer(file_id, raw)
    myob.fake.add_raw_customer(
        file_id,
        {"UID": "3f1c0000-0000-4000-8000-00000000abcd", "CompanyName": "Tom & <Jerry>\ud800 \x00Co", "IsActive": True},
    )
    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert run.status == "succeeded" and run.count("unreadable") == 4
    assert customer_count(bot) == len(myob.importable_customers(file_id)), run.counts
    stored = customers_by_external_id(bot)["3f1c0000-0000-4000-8000-00000000abcd"]
    assert stored.name == "Tom & <Jerry>\ufffd Co"  # the lone surrogate replaced, the NUL byte taken out
