"""An import's result is never lost: an end that Slack did not take (down, 5xx, no connection) leaves the run
untold, and once Slack answers again its result, summary and CSV are posted, each exactly once."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlalchemy import event, select

from bot.imports.runs import ImportPolicy
from bot.slack.import_reports import Content, Delivery, Reserved, file_content, slack_reporters, upload_file
from bot.slack.notify import SlackUnavailable, transient
from storage.models import AuditEvent
from tests.conftest import ADMIN, CHANNEL, TEAM, RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import command, connected
from tests.imports import QUICK, csv_rows, dm, quick, run_view, runs

TELL_AGAIN = dataclasses.replace(QUICK, report_retry=timedelta(seconds=0.2))


def patient(bot: RunningBot, policy: ImportPolicy = TELL_AGAIN) -> None:
    """Quick imports whose reports retry Slack twice within milliseconds, then leave the end for a later tick."""
    quick(bot)
    runner = bot.server.imports
    runner.policy = policy
    runner.reporters = slack_reporters(bot.server.runtime, progress_every=0.0, delivery=Delivery(2, 0.01))


def ended_untold(bot: RunningBot) -> Any:
    def check() -> Any:
        [run] = runs(bot)
        return run if run.status == "succeeded" and run.reported_at is None and run.lease_owner is None else None

    return bot.slack.wait_for(check, timeout=30, message="the run did not end untold")


def told(bot: RunningBot) -> Any:
    def check() -> Any:
        bot.server.imports.tick()
        [run] = runs(bot)
        return run if run.reported_at is not None else None

    return bot.slack.wait_for(check, timeout=30, message="the end was not told")


def summaries(bot: RunningBot) -> list[Any]:
    return [
        c
        for c in bot.slack.calls("chat.postMessage")
        if c.status == 200 and c.args.get("thread_ts") and "Import finished" in str(c.args.get("blocks"))
    ]


def results_in_channel(bot: RunningBot) -> list[Any]:
    return [
        c
        for c in bot.slack.calls("chat.postMessage")
        if c.args.get("channel") == CHANNEL and not c.args.get("thread_ts") and c.response.get("ok")
    ]


def held_at_its_end(bot: RunningBot, xero: XeroFake, tenant: str, meanwhile: Callable[[], object]) -> None:
    """An import of 30 contacts, held between its last page and its end (the chart's refresh) while `meanwhile` runs."""
    xero.seed_contacts(tenant, 30)
    release = xero.hold("/Accounts")
    try:
        command(bot, "/accounts import", "Starting the import")
        bot.slack.wait_for(lambda: runs(bot) and runs(bot)[0].status == "succeeded")
        meanwhile()
    finally:
        release.set()


def test_an_import_that_ends_while_slack_is_down_is_told_once_slack_is_back(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    bot = connect_bot
    _, tenant = connected(bot, xero)
    patient(bot)
    xero.seed_contacts(tenant, 30)
    command(bot, "/accounts import", "Starting the import")  # the command's answer comes while Slack is up
    bot.slack.go_down(503)

    ended_untold(bot)
    assert summaries(bot) == [] and bot.slack.uploaded_files == []
    bot.server.imports.tick()  # Slack still down: told again, still not taken
    assert runs(bot)[0].reported_at is None

    bot.slack.come_back()
    run = told(bot)
    view = run_view(bot, run.id)
    assert len(results_in_channel(bot)) == 1 and view.parent_ts is not None
    assert bot.slack.message(CHANNEL, view.parent_ts)["text"].startswith(":white_check_mark: Imported customers")
    assert len(summaries(bot)) == 1
    [upload] = bot.slack.uploaded_files
    assert upload.channels == [dm(bot)] and len(csv_rows(upload)) == view.count("new") > 0

    for _ in range(3):  # told: later ticks tell nothing more
        assert bot.server.imports.tick() == []
    bot.slack.wait_for(lambda: not bot.server.imports.running)
    assert len(summaries(bot)) == 1 and len(bot.slack.uploaded_files) == 1 and len(results_in_channel(bot)) == 1


def test_a_part_of_the_end_that_slack_took_is_not_sent_again(connect_bot: RunningBot, xero: XeroFake) -> None:
    """The CSV went, the summary got a 500: the summary comes later, the CSV does not come twice."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    patient(bot)
    held_at_its_end(
        bot,
        xero,
        tenant,
        lambda: bot.slack.fail_next("chat.postMessage", "internal_error", status=500, times=2),  # both attempts
    )

    run = told(bot)
    assert run.reported_parts == ["csv", "summary"]
    assert len(summaries(bot)) == 1 and len(bot.slack.uploaded_files) == 1


def test_the_end_goes_to_slack_at_once_not_a_round_trip_at_a_time(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Slack not answering the parent's result (an edit) nor the CSV's direct message yet: the CSV's upload is
    reserved and sent meanwhile (the direct message is needed only to share the file), not after them, and once Slack
    answers the summary comes after all of them, with the CSV."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    quick(bot)
    releases = []

    def slack_holds_the_edit_and_the_direct_message() -> None:  # from here on: the end alone
        releases.extend(bot.slack.hold(method) for method in ("chat.update", "conversations.open"))
        bot.slack.clear_calls()

    try:
        held_at_its_end(bot, xero, tenant, slack_holds_the_edit_and_the_direct_message)
        bot.slack.wait_for(lambda: bot.slack.calls("files.getUploadURLExternal"), timeout=30)
        assert not bot.slack.calls("chat.update") and not bot.slack.calls("conversations.open")
        assert not summaries(bot)
    finally:
        for release in releases:
            release.set()

    run = told(bot)
    answered = bot.slack.calls()  # in the order Slack answered them
    [summary] = summaries(bot)
    after = answered[answered.index(summary) :]
    assert not {"chat.update", "conversations.open", "files.completeUploadExternal"} & {c.method for c in after}
    assert "Import finished" in str(summary.args["blocks"]) and run.reported_parts == ["csv", "summary"]
    view = run_view(bot, run.id)
    assert bot.slack.message(CHANNEL, view.parent_ts)["text"].startswith(":white_check_mark: Imported customers")
    [upload] = bot.slack.uploaded_files
    assert upload.channels == [dm(bot)] and len(csv_rows(upload)) == view.count("new") > 0


def test_the_csvs_upload_is_reserved_while_its_lines_are_put_in_order(connect_bot: RunningBot, xero: XeroFake) -> None:
    """The size of the CSV of an import's new customers is known from the lines it gathered before they are put in
    the CSV's order: its upload is reserved beside that (a round trip to Slack that waits for nothing the file does),
    not once the file is made; the file sent is the size reserved, and reserved once."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    quick(bot)
    xero.seed_contacts(tenant, 30)
    reserved_before_the_order: list[bool] = []

    def order_waits_for_the_reservation(*args: Any) -> None:  # before_cursor_execute's arguments
        if "group_concat" in args[2] or "string_agg" in args[2]:  # the CSV's order (`storage.bulk.ids_in_order`)
            try:
                bot.slack.wait_for(lambda: bot.slack.calls("files.getUploadURLExternal"), timeout=10)
            except TimeoutError:
                reserved_before_the_order.append(False)
            else:
                reserved_before_the_order.append(True)

    engine = bot.server.runtime.db.engine
    event.listen(engine, "before_cursor_execute", order_waits_for_the_reservation)
    try:
        command(bot, "/accounts import", "Starting the import")
        run = told(bot)
    finally:
        event.remove(engine, "before_cursor_execute", order_waits_for_the_reservation)
    assert reserved_before_the_order == [True]
    [reservation] = bot.slack.calls("files.getUploadURLExternal")
    [upload] = bot.slack.uploaded_files
    assert upload.completed and upload.channels == [dm(bot)] and upload.content is not None
    assert upload.length == len(upload.content) == int(reservation.args["length"])
    assert len(csv_rows(upload)) == run_view(bot, run.id).count("new") > 0


def test_an_upload_reserved_for_another_size_is_reserved_again(connect_bot: RunningBot) -> None:
    """A file that did not come out the size its upload was reserved for (the lines gathered did not stand, and the
    CSV was read from the database): that upload is let go, never completed, and one of the file's size sent. One of
    the size reserved is sent on it, from a file or as its chunks are made."""
    bot = connect_bot
    client = bot.server.runtime.client_for(TEAM)
    assert client is not None
    channel = str(client.conversations_open(users=ADMIN)["channel"]["id"])
    csv = b"Name,Email\r\nAda Lovelace,ada@example.com\r\n"

    def upload(content: Content, *, reserved_for: int) -> None:
        with ThreadPoolExecutor(1) as beside:
            early = beside.submit(client.files_getUploadURLExternal, filename="new.csv", length=reserved_for)
            upload_file(
                client,
                content,
                channel=lambda: channel,
                filename="new.csv",
                initial_comment="New",
                reserved=Reserved(reserved_for, early),
            )

    upload(file_content(io.BytesIO(csv)), reserved_for=10)
    by_length = {c.args["length"]: c.response["file_id"] for c in bot.slack.calls("files.getUploadURLExternal")}
    assert by_length.keys() == {"10", str(len(csv))}  # the two in either order: the first was on its way meanwhile
    [upload_sent] = bot.slack.uploaded_files
    assert upload_sent.completed and upload_sent.content == csv and upload_sent.length == len(csv)
    assert upload_sent.file_id == by_length[str(len(csv))] != by_length["10"]

    upload(file_content(io.BytesIO(csv)), reserved_for=len(csv))  # reserved for its size: taken as it is
    upload(Content(len(csv), iter([csv[:12], csv[12:]])), reserved_for=len(csv))  # made as it is sent
    assert len(bot.slack.calls("files.getUploadURLExternal")) == 4
    assert [(f.content, f.length, f.completed) for f in bot.slack.uploaded_files[1:]] == [(csv, len(csv), True)] * 2


def test_the_pages_and_the_csv_do_not_wait_for_slack_to_take_their_progress(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    """Slack not answering the parent message's post nor the milestones' replies yet: every page is written meanwhile
    (one after another, the first page waited for the post, and the last for both replies), and so is the CSV of the
    new customers, made, uploaded and shared by direct message (it does not wait for the channel's thread); once Slack
    answers, every reply comes, in order, before the summary, which says the CSV went."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    quick(bot, batch_records=1, progress_every=3600.0)  # each page told as it is saved; no edits between them
    xero.seed_contacts(tenant, 2500)
    release = bot.slack.hold("chat.postMessage")
    try:
        command(bot, "/accounts import", "Starting the import")
        bot.slack.wait_for(lambda: runs(bot) and runs(bot)[0].status == "succeeded", timeout=30)
        [upload] = bot.slack.wait_for(
            lambda: [f for f in bot.slack.uploaded_files if f.completed],
            timeout=30,
            message="the CSV waited for the progress to be told",
        )
        assert not bot.slack.calls("chat.postMessage")  # the parent and the replies still on their way
        assert upload.channels == [dm(bot)]
    finally:
        release.set()

    run = told(bot)
    texts = [str(c.args.get("text")) for c in replies(bot)]
    assert texts[:2] == ["Read 1,000 of 2,500 contacts (40%).", "Read 2,000 of 2,500 contacts (80%)."]
    assert "Import finished" in str(replies(bot)[-1].args.get("blocks")) and run.reported_parts == ["csv", "summary"]
    assert "by direct message" in str(replies(bot)[-1].args.get("blocks"))
    assert len(bot.slack.uploaded_files) == 1 and len(csv_rows(upload)) == run_view(bot, run.id).count("new") > 0
    [first, *_] = bot.slack.calls("chat.postMessage")
    assert first.args.get("thread_ts") is None and first.response["ts"] == run_view(bot, run.id).parent_ts


def replies(bot: RunningBot) -> list[Any]:
    """The replies in the run's thread that Slack took, in the order it answered them."""
    return [c for c in bot.slack.calls("chat.postMessage") if c.args.get("thread_ts") and c.response.get("ok")]


def test_an_end_slack_cannot_be_reached_for_is_told_later(connect_bot: RunningBot, xero: XeroFake) -> None:
    """No connection at all (nothing listening where Slack should be), then Slack again."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    patient(bot)
    xero.seed_contacts(tenant, 10)
    runtime = bot.server.runtime
    reachable = runtime.settings
    # Slack's Web API gone before the import starts: its reporter makes its client (and keeps it) at the start
    runtime.settings = reachable.model_copy(update={"slack_api_url": "http://127.0.0.1:9/api/"})  # discard port
    try:
        command(bot, "/accounts import", "Starting the import")
        ended_untold(bot)
    finally:
        runtime.settings = reachable
    told(bot)
    assert len(summaries(bot)) == 1 and len(bot.slack.uploaded_files) == 1


# The database refuses the audit entry of a customers CSV (a trigger), as it may refuse any write: full, gone away
_REFUSE_EXPORTS = {
    "sqlite": [
        "CREATE TRIGGER refuse_exports BEFORE INSERT ON audit_events WHEN NEW.action = 'customers.exported' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_exports() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.action = 'customers.exported' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_exports BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_exports()",
    ],
}
_ALLOW_EXPORTS = {
    "sqlite": ["DROP TRIGGER refuse_exports"],
    "postgresql": ["DROP TRIGGER refuse_exports ON audit_events", "DROP FUNCTION refuse_exports()"],
}


def test_a_csv_is_told_only_with_its_audit_entry(connect_bot: RunningBot, xero: XeroFake) -> None:
    """The CSV went but its audit entry could not be written: the CSV is not taken as told, so the end is told
    again later with the CSV sent again and audited then. A CSV taken as told always has its entry."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    patient(bot)
    db = bot.server.runtime.db
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        for statement in _REFUSE_EXPORTS[dialect]:
            conn.exec_driver_sql(statement)
    try:
        xero.seed_contacts(tenant, 30)
        command(bot, "/accounts import", "Starting the import")
        run = ended_untold(bot)
        assert len(bot.slack.uploaded_files) >= 1 and "csv" not in (run.reported_parts or [])
        assert _exports(bot) == []
    finally:
        with db.engine.begin() as conn:
            for statement in _ALLOW_EXPORTS[dialect]:
                conn.exec_driver_sql(statement)
    run = told(bot)
    assert run.reported_parts == ["csv", "summary"] and len(summaries(bot)) == 1
    [exported] = _exports(bot)
    new = run_view(bot, run.id).count("new")
    assert exported.detail == {"rows": new, "import": run.id} and len(csv_rows(bot.slack.uploaded_files[-1])) == new


def _exports(bot: RunningBot) -> list[AuditEvent]:
    with bot.db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "customers.exported")))


def test_the_lease_is_a_minute_renewed_every_quarter() -> None:
    policy = ImportPolicy()
    assert policy.lease == timedelta(seconds=60)


def _slack_error(status: int, error: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=status,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    ("exc", "later"),
    [
        (URLError(ConnectionRefusedError(111, "Connection refused")), True),
        (TimeoutError(), True),
        (SlackUnavailable("upload 503"), True),
        (_slack_error(503, "service_unavailable"), True),
        (_slack_error(500, "whatever"), True),
        (_slack_error(200, "internal_error"), True),
        (_slack_error(429, "ratelimited"), True),
        (_slack_error(200, "channel_not_found"), False),
        (_slack_error(200, "token_revoked"), False),
    ],
)
def test_what_is_worth_telling_again(exc: Exception, later: bool) -> None:
    assert transient(exc) is later
