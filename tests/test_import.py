"""Importing customers from Slack, end to end over real HTTP: the Slack fake, the package's fake, and the bot.
Tests taking `package` run once per package; those taking `xero` are about Xero's own behaviour: its contact
statuses (merged, GDPR-erased), its 429 headers and daily limit, its page numbers as the cursor, and switching
organisation through its picker."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.imports.job import EventWaiter
from bot.imports.runs import RunView
from storage.models import AuditEvent, Connection, ImportRun, Workspace
from tests.conftest import ADMIN, CHANNEL, DATABASES, STAFF, TEAM, RunningBot
from tests.fakes.blockkit import check_message, check_view
from tests.fakes.xero import XeroFake
from tests.flows import all_text, becomes, button_for, click, command, connected, log_in, seen, shown, url_in
from tests.imports import (
    QUICK,
    bot_said,
    csv_rows,
    customer_count,
    customers_by_external_id,
    dm,
    due_run_claimed,
    expected_customers,
    finished,
    parent,
    quick,
    reference_count,
    run_view,
    runs,
    sync_settings,
    thread_text,
)
from tests.providers.packages import PackageDriver, Resource
from tests.test_import_keys import _statements


@pytest.fixture
def imports(package_bot: RunningBot, package: PackageDriver) -> tuple[RunningBot, Connection, str]:
    """The bot connected to a new organisation at the package, made quick to import: the bot, the connection,
    the organisation's id."""
    row, organisation = connected(package_bot, package)
    quick(package_bot)
    return package_bot, row, organisation


@pytest.fixture
def xero_imports(connect_bot: RunningBot, xero: XeroFake) -> tuple[RunningBot, Connection, str]:
    """`imports` at Xero, for the Xero-only tests."""
    row, tenant = connected(connect_bot, xero)
    quick(connect_bot)
    return connect_bot, row, tenant


def test_first_import_end_to_end(imports: tuple[RunningBot, Connection, str], package: PackageDriver) -> None:
    bot, _, organisation = imports
    quick(bot, batch_records=1)  # each page told as it is saved, as when pages come slower than they are written
    package.seed_customers(organisation, 2500)
    package.add_customer(organisation, '=HYPERLINK("http://evil.example","Click")', email="=1+2@example.com")
    package.add_customer(organisation, "@Risky Formula Ltd", phone="+64 21 555 0100")
    expected = package.importable_customers(organisation)

    answer = command(bot, "/accounts import", "Starting the import")
    assert "Progress will appear in <#C0GENERAL1>" in answer["text"]
    run = finished(bot)
    assert run.status == "succeeded"
    assert run.count("new") == len(expected) == customer_count(bot) == reference_count(bot)
    assert run.processed == 2502 and run.total == 2502

    first_post = bot.slack.calls("chat.postMessage")[0].args
    assert f"Importing customers from {package.title} (Acme Plumbing Ltd)…" in str(first_post["blocks"])
    edits = [str(c.args["blocks"]) for c in bot.slack.calls("chat.update")]
    assert any("39%" in e and "1,000 of 2,502 contacts read" in e and "import_cancel" in e for e in edits)

    top = parent(bot, run)
    assert check_message(top["blocks"]) == []
    assert top["text"].startswith(f":white_check_mark: Imported customers from {package.title} (Acme Plumbing Ltd)")
    assert f"{len(expected):,} new" in top["text"] and "import_cancel" not in str(top["blocks"])

    thread = thread_text(bot, run)
    assert "Read 1,000 of 2,502 contacts (39%)." in thread and "Read 2,000 of 2,502 contacts (79%)." in thread
    assert "Import finished" in thread and f"*New*\\n{len(expected):,}" in thread
    assert "Missing essential data" in thread and "New customers* (the first 20 of" in thread
    assert f"went to <@{ADMIN}> by direct message" in thread
    assert "*Scheduled sync:* on, every hour; the next one runs <!date^" in thread  # the first, an hour after this

    [upload] = bot.slack.uploaded_files
    assert upload.channels == [dm(bot)] and upload.filename.startswith("new-customers-")
    [exported] = audit_rows(bot, "customers.exported")  # every customers CSV that leaves is audited
    assert (exported.actor_user_id, exported.detail) == (ADMIN, {"rows": len(expected), "import": run.id})
    assert upload.content is not None and upload.length == len(upload.content)  # the length reserved was sent
    rows = csv_rows(upload)
    assert len(rows) == len(expected)
    names = {r["Name"] for r in rows}
    assert '\'=HYPERLINK("http://evil.example","Click")' in names and "'@Risky Formula Ltd" in names
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), row
    assert any(r["Phones"].startswith("'+64") for r in rows)


def test_the_summary_looks_only_for_what_the_runs_counts_say_it_has(
    xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake
) -> None:
    """A first import with new customers but no possible duplicate and no unreadable record: its end reads the new
    names, and neither looks for duplicates (a sort of every new customer) nor reads the unreadable records; its
    summary and CSV are whole. A run with an unreadable record reads those and shows them."""
    bot, _, tenant = xero_imports
    xero.seed_contacts(tenant, 30)
    with _statements(bot.db) as sent:
        command(bot, "/accounts import", "Starting the import")
        run = finished(bot)
    reads = [q for q in sent if q.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert run.count("new") > 0 and run.count("possible_duplicates") == run.count("unreadable") == 0
    assert any("first_import_run_id" in q and "LIMIT" in q for q in reads)  # the new names
    assert not [q for q in reads if "= customers.possible_duplicate_of_id" in q or "import_run_skips" in q]
    thread = thread_text(bot, run)
    assert "New customers* (the first 20 of" in thread and "Possible duplicates" not in thread
    [upload] = bot.slack.uploaded_files
    assert len(csv_rows(upload)) == run.count("new")

    xero.add_raw_contact(tenant, {"Name": "No Id Ltd", "ContactStatus": "ACTIVE"})
    with _statements(bot.db) as sent:
        command(bot, "/accounts import", "Starting the import")
        again = bot.slack.wait_for(lambda: (r := finished(bot)) and r.id != run.id and r, timeout=30)
    assert again.count("unreadable") == 1 and any("import_run_skips" in q for q in sent)
    assert "contact could not be read from Xero:" in thread_text(bot, again)


def test_a_reimport_creates_no_duplicates_and_counts_the_unchanged(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    package.seed_customers(organisation, 1200)
    command(bot, "/accounts import", "Starting the import")
    first = finished(bot)
    before = customer_count(bot)
    command(bot, "/accounts import", "Starting the import")
    second = finished(bot)
    assert second.id != first.id and second.status == "succeeded"
    assert (second.count("new"), second.count("updated")) == (0, 0)
    assert second.count("unchanged") == first.count("new") == before == customer_count(bot)
    assert second.count("skipped") == first.count("skipped") > 0
    assert "nothing changed here (" in parent(bot, second)["text"] and "0 new" not in parent(bot, second)["text"]
    assert len(bot.slack.uploaded_files) == 1  # nothing new the second time: no list to send


def test_archived_merged_and_erased_contacts(xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake) -> None:
    """Xero only: Xero's contact statuses (archived, merged into another, GDPR-erased) and its supplier flags."""
    bot, _, tenant = xero_imports
    alpha, beta, gamma, delta = (
        xero.add_contact(tenant, f"{name} Builders", EmailAddress=f"{name.lower()}@example.com", IsCustomer=True)
        for name in ("Alpha", "Beta", "Gamma", "Delta")
    )
    xero.add_contact(tenant, "Long Gone Ltd", ContactStatus="ARCHIVED", IsCustomer=True)
    xero.add_contact(tenant, "Only A Supplier", IsSupplier=True)
    xero.add_contact(tenant, "Not Invoiced Yet Ltd")  # neither flag: still counts by default
    command(bot, "/accounts import", "Starting the import")
    first = finished(bot)
    assert (first.count("new"), first.count("skipped")) == (5, 2)

    xero.archive_contact(tenant, alpha)
    xero.merge_contacts(tenant, beta, into_id=gamma)
    xero.update_contact(tenant, gamma, EmailAddress="gamma@new.example.com")
    xero.gdpr_erase(tenant, delta)
    command(bot, "/accounts import", "Starting the import")
    second = finished(bot)
    assert (second.count("updated"), second.count("unchanged"), second.count("skipped")) == (4, 1, 2)
    assert (second.count("inactive"), second.count("merged"), second.count("erased")) == (2, 1, 1)

    people = customers_by_external_id(bot)
    assert people[alpha].active is False
    assert people[beta].active is False and people[beta].merged_into_id == people[gamma].id
    assert people[gamma].email == "gamma@new.example.com" and people[gamma].active
    erased = people[delta]
    assert erased.erased_at is not None and erased.name == "Erased contact"
    assert (erased.email, erased.phones, erased.addresses, erased.first_name) == (None, [], [], None)
    thread = thread_text(bot, second)
    assert "2 customers marked inactive" in thread and "1 customer erased here too" in thread


def test_switching_organisation_keeps_the_old_customers_apart(
    xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake
) -> None:
    """Xero only: switches organisation through Xero's picker (its log-in still reaches the first one). Another
    organisation is other books: nothing is linked or flagged across them, and lists and counts are the
    connected organisation's, with the old one's customers kept and shown apart."""
    bot, first_connection, tenant = xero_imports
    xero.add_contact(tenant, "Acme Plumbing Ltd", EmailAddress="office@acme.example", IsCustomer=True)
    xero.add_contact(tenant, "Bob's Bakery", EmailAddress="bob@bakery.example", IsCustomer=True)
    xero.add_contact(tenant, "Kauri Cafe", EmailAddress="hello@kauri.example", IsCustomer=True)
    command(bot, "/accounts import", "Starting the import")
    assert finished(bot).count("new") == 3

    second = xero.add_organisation("Acme Group Holdings")  # switching to another organisation
    question = command(bot, "/accounts connect xero", "already connected")
    click(bot, question, "connect_replace")
    log_in(bot, url_in(becomes(bot, question, "Log in to Xero")), organisations=[second])
    picker = shown(bot, "reaches *2 organisations*")
    click(bot, picker, button_for(picker, "Acme Group Holdings"))
    becomes(bot, picker, "now connected to Acme Group Holdings")
    bot.slack.send_event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, team_id=TEAM)
    home = bot.slack.wait_for(lambda: (v := bot.slack.home_view(ADMIN)) and "Acme Group Holdings" in str(v) and v)
    assert "*Customers:* 0 imported" in str(home) and "3 from Acme Plumbing Ltd" in str(home)

    xero.add_contact(second, "ACME Plumbing", EmailAddress="Office@Acme.example", IsCustomer=True)
    xero.add_contact(second, "Bob’s Bakery Ltd", EmailAddress="orders@bakery.example", IsCustomer=True)
    xero.add_contact(second, "Fresh Customer", EmailAddress="fresh@example.com", IsCustomer=True)
    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert run.connection_id != first_connection.id
    assert (run.count("new"), run.count("linked"), run.count("possible_duplicates")) == (3, 0, 0)
    assert "Possible duplicates" not in thread_text(bot, run)

    listed = all_text(command(bot, "/accounts customers", "Customers of Acme Group Holdings"))
    assert "1–3 of 3" in listed and "Kauri Cafe" not in listed and "Bob's Bakery" not in listed
    assert "3 customers from Acme Plumbing Ltd (Xero)" in listed
    message = shown(bot, "Customers of Acme Group Holdings")
    click(bot, message, "customers_earlier")
    apart = all_text(becomes(bot, message, "kept from organisations no longer connected"))
    assert "Kauri Cafe _(from Acme Plumbing Ltd)_" in apart and "Fresh Customer" not in apart


def test_when_the_bot_cannot_post_in_the_channel_it_reports_by_direct_message(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    bot.slack.add_channel(TEAM, "C0OPS00001", "ops", bot_member=False)
    package.seed_customers(organisation, 30)
    before = len(bot.slack.ephemerals("C0OPS00001", ADMIN))
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id="C0OPS00001")
    bot.slack.wait_for(lambda: len(bot.slack.ephemerals("C0OPS00001", ADMIN)) > before)
    run = finished(bot)
    assert run.status == "succeeded" and run.channel_id == dm(bot)
    said = [m["text"] for m in bot.slack.messages(ADMIN)]
    assert any("I can't post in <#C0OPS00001>" in t and "/invite @accounts-bot" in t for t in said)
    assert parent(bot, run, dm(bot))["text"].startswith(":white_check_mark: Imported customers")
    assert "Import finished" in thread_text(bot, run, dm(bot))
    assert bot.slack.messages("C0OPS00001") == []


def test_the_first_page_is_asked_for_while_slack_takes_the_start(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    """The run's progress message is posted while its first pages are fetched, not before they are asked for: a
    Slack that says to slow down (429, Retry-After: 5) holds up the message, not the package's first call. Which of
    the two reaches its fake first is the machine's choice: the first page is asked for before the message is
    posted, within the 5 s (on the code before, 5 s after)."""
    bot, _, organisation = imports
    package.seed_customers(organisation, 30)
    expected = package.importable_customers(organisation)
    before = len(package.calls(Resource.CUSTOMERS))
    bot.slack.fail_next("chat.postMessage", "ratelimited", retry_after=5)
    command(bot, "/accounts import", "Starting the import")

    package.wait_for_calls(Resource.CUSTOMERS, before + 1, timeout=4.5)
    progress = [c for c in bot.slack.calls("chat.postMessage") if c.args.get("channel") == CHANNEL]
    assert [c.status for c in progress if c.status == 200] == []  # not posted yet: Slack's 5 s are still waited out
    run = finished(bot)
    assert run.status == "succeeded" and run.count("new") == len(expected)
    posted = [c for c in bot.slack.calls("chat.postMessage") if c.args.get("channel") == CHANNEL]
    assert [c.status for c in posted][:2] == [429, 200] and not posted[1].args.get("thread_ts")
    assert parent(bot, run)["ts"] == posted[1].response["ts"]  # the message posted then is the one edited after
    assert parent(bot, run)["text"].startswith(":white_check_mark: Imported customers")
    assert "Import finished" in thread_text(bot, run)


def test_a_rate_limit_storm_is_waited_out_in_the_queue_and_told_in_the_thread(
    xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake
) -> None:
    """Xero only: Xero's 429 with Retry-After and its per-minute limit named in the thread. Half a minute is not
    slept in the worker: the run goes back to the queue until then, each time, without counting as a failed try."""
    bot, _, tenant = xero_imports
    waiter, runtime = bot.server.imports.waiter, bot.server.runtime
    xero.seed_contacts(tenant, 2500)
    expected = expected_customers(xero, tenant)
    xero.fail_next("/Contacts", 429, times=4, headers={"Retry-After": "30"})
    command(bot, "/accounts import", "Starting the import")
    for turn in range(4):
        queued = bot.slack.wait_for(
            lambda turn=turn: (
                (v := run_view(bot)).not_before is not None
                and v.id not in bot.server.imports.running
                and v.status == "queued"
                and thread_text(bot, v).count("slow down") == turn + 1
                and v
            )
        )
        assert timedelta(seconds=20) < queued.not_before - runtime.clock() <= timedelta(seconds=30)
        assert bot.server.imports.tick() == []  # not before its time
        later = runtime.clock() + timedelta(seconds=31)
        runtime.clock = lambda later=later: later  # type: ignore[misc]
        bot.server.imports.tick()  # due now (unless the runner's own tick just claimed it)
    run = finished(bot)
    assert run.status == "succeeded" and run.count("new") == len(expected) == customer_count(bot)
    assert waiter.waits == [] and run.attempts == 1  # never slept in the worker; no try counted against it
    thread = thread_text(bot, run)
    assert thread.count("Xero asked us to slow down, resuming in 30 s (its per-minute limit).") == 4


def test_a_daily_limit_pauses_the_import_and_it_resumes_by_itself(
    xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake
) -> None:
    """Xero only: Xero's daily limit, told by its X-Rate-Limit-Problem header."""
    bot, _, tenant = xero_imports
    xero.seed_contacts(tenant, 1500)
    expected = expected_customers(xero, tenant)
    runtime = bot.server.runtime
    xero.fail_next("/Contacts", 429, headers={"Retry-After": "7200", "X-Rate-Limit-Problem": "day"})
    command(bot, "/accounts import", "Starting the import")
    paused = bot.slack.wait_for(
        lambda: (v := run_view(bot)).not_before is not None and v.id not in bot.server.imports.running and v
    )
    assert paused.status == "queued" and paused.not_before - runtime.clock() > timedelta(hours=1, minutes=59)
    assert "has reached its daily limit, so the import is paused" in thread_text(bot, paused)
    assert bot.server.imports.tick() == []  # not before its time
    later = runtime.clock() + timedelta(hours=2, seconds=1)
    runtime.clock = lambda: later
    # Due now: this tick claims it, unless the runner's own tick (every few seconds, on the same clock) just did.
    assert bot.server.imports.tick() in ([paused.id], [])
    run = finished(bot)
    assert run.id == paused.id and run.attempts == 2
    assert run.status == "succeeded" and run.count("new") == len(expected) == customer_count(bot)


def test_a_provider_failure_is_retried_then_reported_and_resumed_by_retry(
    xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake
) -> None:
    """Xero only: Retry resumes from the cursor, which at Xero is a page number each call shows. Pages are fetched
    one at a time here, so that the nine failures meet one page's three tries in each of our three attempts."""
    bot, _, tenant = xero_imports
    quick(bot, page_size=100, concurrency=1)
    xero.seed_contacts(tenant, 3000)  # 30 pages
    expected = expected_customers(xero, tenant)
    xero.latency = 0.1
    command(bot, "/accounts import", "Starting the import")
    bot.slack.wait_for(lambda: runs(bot) and run_view(bot).pages >= 1)
    xero.fail_next("/Contacts", 500, times=9)  # 3 tries by the provider, for each of our 3 attempts
    run = finished(bot)
    assert run.status == "failed" and "Xero is not answering properly right now (HTTP 500)" in (run.error or "")
    kept = customer_count(bot)
    assert 0 < kept < len(expected)
    thread = thread_text(bot, run)
    assert "Trying again in 1 s (attempt 1 of 2)" in thread and "(attempt 2 of 2)" in thread
    assert "The import stopped." in thread and "are kept" in thread
    top = parent(bot, run)
    assert top["text"].startswith(":x: Import from Xero (Acme Plumbing Ltd) stopped after")
    assert "import_retry" in str(top["blocks"])

    xero.latency = 0.0
    failed_at = len(xero.calls_to("/contacts"))
    bot.slack.send_action("import_retry", user_id=ADMIN, channel_id=CHANNEL, message_ts=run.parent_ts)
    bot.slack.wait_for(lambda: run_view(bot, run.id).status != "failed")
    again = finished(bot, run.id)
    assert again.status == "succeeded" and again.count("new") == len(expected) == customer_count(bot)
    assert "Picked up again after an interruption" in thread_text(bot, again)
    pages = [c.query["page"] for c in xero.calls_to("/contacts") if c.status == 200]
    assert sorted(pages, key=int) == [str(n) for n in range(1, 31)]  # each read once: Retry resumed from the cursor
    assert xero.calls_to("/contacts")[failed_at].query["page"] != "1"


def test_cancel_stops_at_the_next_page_and_keeps_what_was_imported(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    quick(bot, page_size=100)
    package.seed_customers(organisation, 3000)  # 30 pages
    package.slow_down(0.1)
    command(bot, "/accounts import", "Starting the import")
    started = bot.slack.wait_for(lambda: runs(bot) and (v := run_view(bot)).pages >= 1 and v)
    bot.slack.send_action("import_cancel", user_id=ADMIN, channel_id=CHANNEL, message_ts=started.parent_ts)
    asked = bot.slack.wait_for(lambda: (v := run_view(bot)).cancel_requested and v)
    run = finished(bot)
    # What was being written when the Cancel came is kept, and the run stops at a commit soon after. Pages already
    # read ahead share a transaction (`ImportPolicy.batch_records`), and the transaction open when the Cancel came may
    # have written the run's row just before the Cancel committed, not seeing it: the transaction after it sees it,
    # and commits what it holds. Each holds the page being written and those read ahead (seen once in CI: 2 pages
    # committed when the test saw the Cancel, 5 at the end).
    most = asked.pages + 2 * (1 + bot.server.imports.policy.pages_ahead)
    assert run.status == "cancelled" and run.cancelled_by == ADMIN and run.pages <= most < 30
    assert 0 < customer_count(bot) == run.count("new")
    assert f"cancelled by <@{ADMIN}>" in parent(bot, run)["text"]


def test_cancel_during_a_rate_limit_wait_ends_the_wait(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    bot.server.imports.waiter = EventWaiter()  # really waits, until Cancel
    package.seed_customers(organisation, 20)
    slow_down = package.rate_limits[package.waited_limit]  # Xero: a 429 with Retry-After; MYOB: a 403 for a second
    package.fail_next(Resource.CUSTOMERS, slow_down.status, slow_down.body, headers=slow_down.headers)
    command(bot, "/accounts import", "Starting the import")
    waiting = bot.slack.wait_for(
        lambda: runs(bot) and (v := run_view(bot)).parent_ts and "slow down" in thread_text(bot, v) and v
    )
    clicked = time.monotonic()
    bot.slack.send_action("import_cancel", user_id=ADMIN, channel_id=CHANNEL, message_ts=waiting.parent_ts)
    run = finished(bot)
    assert run.status == "cancelled" and time.monotonic() - clicked < 5
    assert customer_count(bot) == 0


def test_a_second_start_links_the_running_import(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    quick(bot, page_size=100)
    package.seed_customers(organisation, 3000)  # 30 pages of 0.1 s at least
    package.slow_down(0.1)
    command(bot, "/accounts import", "Starting the import")
    running = bot.slack.wait_for(lambda: runs(bot) and (v := run_view(bot)).parent_ts and v)
    answer = command(bot, "/accounts import", "is already running")
    ts = (running.parent_ts or "").replace(".", "")
    assert f"https://acme-plumbing.slack.com/archives/{CHANNEL}/p{ts}" in answer["text"]
    assert "I didn't start another" in answer["text"]
    assert f"/p{ts}|see its progress in its thread>" in answer["text"]
    [asked] = bot.slack.calls("chat.getPermalink")  # the link as Slack gives it, wherever the second start came from
    assert asked.args["message_ts"] == running.parent_ts
    finished(bot)
    assert len(runs(bot)) == 1


def test_only_admins_import_unless_an_admin_lets_all_staff(imports: tuple[RunningBot, Connection, str]) -> None:
    bot, _, _ = imports
    command(bot, "/accounts import", "Only Slack workspace admins", STAFF)
    command(bot, "/accounts import staff on", "Only Slack workspace admins", STAFF)
    assert runs(bot) == []
    command(bot, "/accounts import staff on", "Everyone in the workspace may now import customers")
    command(bot, "/accounts import", "Starting the import", STAFF)
    assert finished(bot).started_by == STAFF


def test_names_with_slack_markup_are_shown_escaped(package_bot: RunningBot, package: PackageDriver) -> None:
    connect_bot = package_bot
    _, organisation = connected(connect_bot, package, name="Tom & <!here> Traders")
    quick(connect_bot)
    for name in ("<!channel> Alerts Ltd", "<@U123> Holdings", "Tom & Jerry <Cheese> Co"):
        package.add_customer(organisation, name, email=f"{len(name)}@example.com")
    package.add_customer(organisation, "<!everyone> Party Hire", email="13@example.com")  # a duplicate
    mark = len(connect_bot.slack.calls())
    command(connect_bot, "/accounts import", "Starting the import")
    run = finished(connect_bot)
    thread = thread_text(connect_bot, run)
    for shown_as in ("&lt;!channel&gt; Alerts Ltd", "&lt;@U123&gt; Holdings", "Tom &amp; Jerry &lt;Cheese&gt; Co"):
        assert shown_as in thread
    assert f"{package.title} (Tom &amp; &lt;!here&gt; Traders)" in parent(connect_bot, run)["text"]
    listing = all_text(command(connect_bot, "/accounts customers", "Customers"))
    assert "&lt;!channel&gt; Alerts Ltd" in listing
    said = bot_said(connect_bot, after=mark, mrkdwn_only=True) + listing
    assert "Importing customers from Xero (Tom & <!here> Traders)…".replace("Xero", package.title) in bot_said(
        connect_bot, after=mark
    )  # in the progress message's rich text, as written: Slack never parses it
    for raw in ("<!channel>", "<@U123>", "<!here>", "<!everyone>", "Jerry <Cheese>", "Tom & Jerry"):
        assert raw not in said, said[max(0, said.index(raw) - 300) : said.index(raw) + 100]


def test_customers_lists_pages_searches_and_exports(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    for n in range(45):
        package.add_customer(organisation, f"Customer {n:02d}", email=f"c{n}@example.com")
    package.add_customer(organisation, "Zebra Plumbing", email="=cmd|' /C calc'!A0")
    command(bot, "/accounts import", "Starting the import")
    finished(bot)
    listing = command(bot, "/accounts customers", "Customers of Acme Plumbing Ltd*: 1–20 of 46", STAFF)
    assert check_message(listing["blocks"]) == []
    assert "customers_export" not in str(listing["blocks"])  # members see only what they may do
    click(bot, listing, "customers_next", STAFF)
    becomes(bot, listing, "21–40 of 46", STAFF)
    click(bot, listing, "customers_previous", STAFF)
    becomes(bot, listing, "1–20 of 46", STAFF)
    command(bot, "/accounts export", "only admins", STAFF)
    command(bot, "/accounts export staff on", "Only Slack workspace admins", STAFF)
    found = command(bot, "/accounts customers zebra", "matching “zebra”*: 1–1 of 1")
    click(bot, found, "customers_export")
    upload = bot.slack.wait_for(
        lambda: [f for f in bot.slack.uploaded_files if f.channels == [dm(bot, ADMIN)] and "new" not in f.filename]
    )[-1]
    [row] = csv_rows(upload)
    assert row["Name"] == "Zebra Plumbing" and row["Email"] == "'=cmd|' /C calc'!A0"
    exported = bot.slack.wait_for(lambda: [r for r in audit_rows(bot, "customers.exported") if "search" in r.detail])
    assert exported[-1].actor_user_id == ADMIN and exported[-1].detail == {
        "rows": 1,
        "search": "zebra",
        "earlier": False,
    }

    command(bot, "/accounts export staff on", "everyone in the workspace may export")
    found = command(bot, "/accounts customers zebra", "matching “zebra”*: 1–1 of 1", STAFF)
    click(bot, found, "customers_export", STAFF)
    bot.slack.wait_for(lambda: [f for f in bot.slack.uploaded_files if f.channels == [dm(bot, STAFF)]])
    bot.slack.wait_for(lambda: len(list_exports(bot)) == 2)
    bot.slack.fail_next("files.getUploadURLExternal", "file_uploads_disabled")
    click(bot, found, "customers_export", STAFF)
    told = bot.slack.wait_for(
        lambda: [r.payload for r in bot.slack.responses if "couldn't send you the CSV" in str(r.payload)]
    )
    assert "file_uploads_disabled" in str(told[-1]) and "Try *Export as CSV* again" in str(told[-1])
    assert len([f for f in bot.slack.uploaded_files if f.channels == [dm(bot, STAFF)]]) == 1
    assert len(list_exports(bot)) == 2  # what was not sent is not an export


def list_exports(bot: RunningBot) -> list[AuditEvent]:
    """Exports from `/accounts customers` (not the import's list of new customers)."""
    return [r for r in audit_rows(bot, "customers.exported") if "search" in r.detail]


def audit_rows(bot: RunningBot, action: str) -> list[AuditEvent]:
    with bot.db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_the_import_button_after_mapping_and_not_now(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, row, organisation = imports
    package.seed_customers(organisation, 10)
    client = bot.server.runtime.web_client(bot.settings.slack_bot_token)
    offer = [
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Yes, import all my customers"},
                    "action_id": "import_start",
                    "value": str(row.id),
                },
                {"type": "button", "text": {"type": "plain_text", "text": "Not now"}, "action_id": "import_not_now"},
            ],
        }
    ]
    for _ in range(2):
        client.chat_postEphemeral(channel=CHANNEL, user=ADMIN, text="Import your customers now?", blocks=offer)
    first, second = [m for m in seen(bot) if "Import your customers now?" in all_text(m)]
    click(bot, second, "import_not_now")
    becomes(bot, second, "Not now, then")
    assert runs(bot) == []
    click(bot, first, "import_start")
    becomes(bot, first, "Starting the import")
    run = finished(bot)
    assert (run.trigger, run.channel_id, run.status) == ("button", CHANNEL, "succeeded")


def test_app_home_imports_reports_by_direct_message_and_controls_the_sync(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    package.seed_customers(organisation, 10)
    bot.slack.send_event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, team_id=TEAM)
    home = bot.slack.wait_for(lambda: bot.slack.home_view(ADMIN))
    assert "Customers:* 0 imported" in str(home) and check_view(home) == []
    bot.slack.send_action("import_start", user_id=ADMIN, view_id=home["id"])
    run = finished(bot)
    assert (run.trigger, run.channel_id) == ("home", dm(bot))  # no notification channel yet: the admin who connected
    assert parent(bot, run, dm(bot))["text"].startswith(":white_check_mark:")
    bot.slack.send_event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, team_id=TEAM)
    home = bot.slack.wait_for(lambda: (v := bot.slack.home_view(ADMIN)) and "Last import" in str(v) and v)
    assert "Sync:* on, every hour" in str(home) and check_view(home) == []
    link = f"https://acme-plumbing.slack.com/archives/{dm(bot)}/p{(run.parent_ts or '').replace('.', '')}"
    assert f"<{link}|Details in its thread>" in str(home) and "Details in the thread" not in str(home)
    bot.slack.send_action("sync_off", user_id=ADMIN, view_id=home["id"])
    bot.slack.wait_for(lambda: "Turn sync on" in str(bot.slack.home_view(ADMIN)))
    assert sync_settings(bot).enabled is False
    bot.slack.send_action("notification_channel", user_id=ADMIN, view_id=home["id"], value=CHANNEL)
    home = bot.slack.wait_for(lambda: (v := bot.slack.home_view(ADMIN)) and f"go to:* <#{CHANNEL}>" in str(v) and v)
    assert check_view(home) == []
    bot.slack.send_action("import_start", user_id=ADMIN, view_id=home["id"])
    bot.slack.wait_for(lambda: len(runs(bot)) == 2)
    assert finished(bot).channel_id == CHANNEL  # App Home imports now report in the chosen channel


def test_sync_and_channel_commands(imports: tuple[RunningBot, Connection, str]) -> None:
    bot, _, _ = imports
    command(bot, "/accounts sync every 30m", "on, every 30 minutes; the next one runs")
    settings = sync_settings(bot)
    assert settings.enabled and settings.interval_minutes == 30 and settings.next_sync_at is not None
    command(bot, "/accounts sync every 2h", "every 2 hours")
    command(bot, "/accounts sync every 2m", "from 5 minutes to 24 hours")
    command(bot, "/accounts sync off", "*Scheduled sync:* off")
    off = sync_settings(bot)
    assert off.enabled is False and off.interval_minutes == 120
    assert off.next_sync_at is None  # nothing for the planner to walk past while off
    command(bot, "/accounts import", "Starting the import")
    assert finished(bot).status == "succeeded" and sync_settings(bot).next_sync_at is None  # an import keeps it off
    command(bot, "/accounts sync on", "every 2 hours")
    on = sync_settings(bot)
    assert on.enabled and on.next_sync_at is not None
    assert timedelta(minutes=119) < on.next_sync_at - bot.server.runtime.clock() <= timedelta(hours=2)
    command(bot, "/accounts sync off", "Only Slack workspace admins", STAFF)
    command(bot, "/accounts channel #general", "will report in <#C0GENERAL1>")
    command(bot, "/accounts channel #elsewhere", "I can't find a channel called `#elsewhere`")
    with bot.db.session() as s:
        assert s.scalars(select(Workspace.notification_channel_id)).one() == CHANNEL


def test_the_scheduled_sync_imports_only_what_changed(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    ids = package.seed_customers(organisation, 1500)
    command(bot, "/accounts channel #general", "will report in")
    command(bot, "/accounts import", "Starting the import")
    first = finished(bot)

    def sync_now() -> RunView:  # an hour passes, here and at the package
        return finished(bot, due_run_claimed(bot, timedelta(minutes=61), package.clock))

    charts_read = len(package.calls(Resource.ACCOUNTS))
    quiet = sync_now()  # nothing changed: nothing said
    assert (quiet.kind, quiet.trigger, quiet.status, quiet.processed) == ("incremental", "schedule", "succeeded", 0)
    assert quiet.parent_ts is None
    assert len(package.calls(Resource.ACCOUNTS)) == charts_read  # the chart read an hour ago is not read again

    package.clock.advance(120)
    kept = set(package.importable_customers(organisation))
    changed = [c for c in ids[:40] if c in kept][:3]
    for customer_id in changed:
        package.change_customer(organisation, customer_id, email=f"{customer_id[:8]}@changed.example")
    package.add_customer(organisation, "Brand New Customer", email="new@example.com")
    before = len(package.calls(Resource.CUSTOMERS))
    run = sync_now()
    assert (run.kind, run.count("new"), run.count("updated"), run.processed) == ("incremental", 1, 3, 4)
    [call] = package.calls(Resource.CUSTOMERS)[before:]
    assert package.asks_for_changes_only(call)  # Xero: If-Modified-Since
    assert run.channel_id == CHANNEL and parent(bot, run)["text"].startswith(":white_check_mark: Synced customers")
    assert "Brand New Customer" in thread_text(bot, run)
    assert customer_count(bot) == first.count("new") + 1


def test_a_scheduled_sync_reads_the_chart_again_once_it_is_a_day_old(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    package.seed_customers(organisation, 20)
    command(bot, "/accounts import", "Starting the import")
    finished(bot)
    charts_read = len(package.calls(Resource.ACCOUNTS))
    assert finished(bot, due_run_claimed(bot, timedelta(hours=25), package.clock)).status == "succeeded"
    assert len(package.calls(Resource.ACCOUNTS)) == charts_read + 1


def test_stopping_waits_for_a_run_reading_the_chart_after_its_last_page_to_end_and_be_told(
    xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake
) -> None:
    bot, _, tenant = xero_imports
    xero.seed_contacts(tenant, 5)
    charts_read = len(xero.calls_to("/accounts"))
    held = xero.hold("/accounts")  # the chart, read once the last page is written
    command(bot, "/accounts import", "Starting the import")
    bot.slack.wait_for(lambda: len(xero.calls_to("/accounts")) > charts_read)
    runner = bot.server.imports
    threading.Thread(target=lambda: runner.stopping.wait() and held.set(), daemon=True).start()
    runner.shutdown()  # the clients close after this: the run must not be left mid-call
    with bot.db.session() as s:
        run = s.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
        assert run is not None and run.status == "succeeded"
        assert run.reported_at is not None and run.lease_owner is None  # its end told, the run let go
    assert "Import finished" in bot_said(bot)


def test_a_failing_scheduled_sync_tells_the_admins_once(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    bot, _, organisation = imports
    package.seed_customers(organisation, 20)
    command(bot, "/accounts import", "Starting the import")
    finished(bot)
    in_channel = len(bot.slack.messages(CHANNEL))
    for _ in range(2):
        # every try of the provider, for each of the runner's attempts
        package.fail_next(Resource.CUSTOMERS, 500, times=package.tries * (QUICK.retries + 1))
        assert finished(bot, due_run_claimed(bot, timedelta(minutes=61))).status == "failed"
    told = [m for m in bot.slack.messages(ADMIN) if "scheduled sync of customers" in m.get("text", "")]
    assert len(told) == 1 and "import_retry" in str(told[0]["blocks"])
    assert f"{package.title} is not answering properly" in told[0]["text"]
    assert len(bot.slack.messages(CHANNEL)) == in_channel


def test_progress_edits_are_throttled(imports: tuple[RunningBot, Connection, str], package: PackageDriver) -> None:
    bot, _, organisation = imports
    quick(bot, page_size=100, progress_every=0.5)
    package.seed_customers(organisation, 2000)
    # Slow enough that the walk outlasts two progress intervals even with pages fetched five at once (Xero).
    package.slow_down(0.25)
    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert run.pages == 20
    took = (run.duration or timedelta()).total_seconds()
    edits = [c for c in bot.slack.calls("chat.update") if c.args.get("ts") == run.parent_ts]
    assert 2 <= len(edits) <= took / 0.5 + 3 and len(edits) < run.pages


def test_each_import_refreshes_the_chart_so_stale_mappings_are_flagged(
    imports: tuple[RunningBot, Connection, str], package: PackageDriver
) -> None:
    from storage.models import ChartAccount

    bot, row, organisation = imports
    package.seed_customers(organisation, 5)
    sales = package.account_ids(organisation)[package.chart_picks["sales"].key]  # Xero: the account coded 200
    package.archive_account(organisation, sales)
    command(bot, "/accounts import", "Starting the import")
    assert finished(bot).status == "succeeded"
    with bot.db.session() as s:
        stored = s.scalars(select(ChartAccount).where(ChartAccount.connection_id == row.id)).all()
    assert stored, "the chart was stored by the import"
    assert [a.active for a in stored if a.external_id == sales] == [False]


if "postgresql" in DATABASES:  # a reader held by a lock only on PostgreSQL (SQLite's readers never wait)

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_the_csv_of_new_customers_does_not_wait_for_the_summarys_reading(
        xero_imports: tuple[RunningBot, Connection, str], xero: XeroFake
    ) -> None:
        """A person's import ends by reading what its summary shows beside making and sending the CSV of its new
        customers (at 80,000 new customers the summary's queries took 50 ms and the CSV 270 ms, one after the other):
        with the summary's reading held (a lock, taken once the pages are written, on the sync settings' table,
        which at the end only the summary reads), the CSV still reaches the person, and the summary, saying so,
        follows once the lock goes."""
        bot, _, tenant = xero_imports
        xero.seed_contacts(tenant, 30)
        at_the_end = xero.hold("/Accounts")  # the chart's refresh, which the end waits for, after the last page
        holder = bot.db.engine.connect()
        try:
            command(bot, "/accounts import", "Starting the import")
            bot.slack.wait_for(lambda: runs(bot) and runs(bot)[0].status == "succeeded", timeout=30)
            holder.execute(text("LOCK TABLE sync_settings IN ACCESS EXCLUSIVE MODE"))
            at_the_end.set()
            [upload] = bot.slack.wait_for(
                lambda: [f for f in bot.slack.uploaded_files if f.completed],
                timeout=30,
                message="the CSV waited for the summary's reading",
            )
            assert upload.channels == [dm(bot)]
            [run] = runs(bot)
            assert "Import finished" not in thread_text(bot, run_view(bot, run.id))  # its reading is still held
        finally:
            at_the_end.set()
            holder.rollback()
            holder.close()
        run = finished(bot)
        thread = thread_text(bot, run)
        assert "Import finished" in thread and f"went to <@{ADMIN}> by direct message" in thread
        assert len(bot.slack.uploaded_files) == 1 and len(csv_rows(upload)) == run.count("new") > 0
