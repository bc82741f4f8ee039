"""Telling Slack how an import goes: the progress message and its thread, the summary, the CSV by direct message,
and the fallback to a direct message when the bot cannot post in the channel.

A scheduled sync stays quiet unless it changed something; when it fails, the admins get a direct message.
Slack trouble never stops an import: progress that Slack refuses is logged and skipped. The end of a run is
told only once Slack took it: connection errors and 5xx are retried with backoff, and if Slack still does not
answer, `finished` says so and the run is told again later, each part of its end (the CSV, the summary, the
admins' messages) sent once.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import io
import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, NamedTuple, TypeVar

import httpx2
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from bot import workspaces
from bot.customers.csv_lines import NewCustomers
from bot.customers.lists import (
    Scope,
    csv_chunks,
    iter_csv_rows,
    iter_unreadable,
    new_customer_lines,
    new_customer_lines_size,
    new_customer_names,
    possible_duplicates,
    unreadable_records,
    write_csv_lines,
    write_csv_rows,
)
from bot.imports.runs import RunView, add_reported_part, record_parent, record_reported_part
from bot.imports.sync import current_plan, customer_filter_of, sync_settings
from bot.runtime import Runtime
from bot.slack.notify import CANNOT_POST_HERE, SlackUnavailable, direct_message, transient
from bot.views import importing as views
from bot.workspaces import permissions
from providers.base import ProviderError
from providers.http import tls_context
from storage.models import Connection, RunStatus, Workspace

log = logging.getLogger(__name__)

Blocks = list[dict[str, Any]]
T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """How hard the end of a run is pushed to Slack before it is left for later; tests shrink these."""

    attempts: int = 4
    backoff: float = 1.0  # seconds before the second attempt, doubling after, with as much jitter

    def retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, max=30 * self.backoff) + wait_random(0, self.backoff),
            retry=retry_if_exception(transient),
            reraise=True,
        )


class SlackUnreachable(Exception):
    """Slack did not take part of a run's end; the run is told again later."""


def reporting_client(runtime: Runtime, team_id: str) -> WebClient | None:
    """The workspace's client, waiting out Slack's rate limits (progress replies come in bursts)."""
    client = runtime.client_for(team_id)
    if client is not None:
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    return client


def send_customers_csv(
    runtime: Runtime,
    client: WebClient,
    *,
    user_id: str,
    workspace_id: int,
    filename: str,
    comment: Callable[[int], str],
    run_id: int | None = None,
    query: str | None = None,
    connection_id: int | None = None,
    scope: Scope | None = None,
    unreadable: bool = False,
    made: NewCustomers | None = None,
) -> int:
    """Write the customers to a temporary CSV file (streamed from the database) and upload it into the
    person's direct message with the bot; returns how many customers it had. `unreadable` adds the records
    the run `run_id` could not import, with the reason. `made`: the lines of the run's new customers gathered
    as it wrote them, sent as they are (no file written first) where they still stand for the run's new customers
    (the bytes are the same: `lists.new_customer_lines`)."""
    whole = query is None and scope is None and connection_id is None  # a run's new customers, all
    # the file's size where it is known before the file is written: the lines gathered are the file but for their order
    size = new_customer_lines_size(made) if whole and run_id is not None and not unreadable else None
    with (
        tempfile.TemporaryFile("w+b") as raw,
        ThreadPoolExecutor(2, thread_name_prefix="csv-to-slack") as beside,
    ):
        # the direct message's channel asked for while the file is written and its upload reserved and sent: a
        # round trip to Slack that waits for nothing the file does, needed only to share the file (should Slack
        # refuse it, what it raised is raised there, the file sent but shared nowhere)
        opened = beside.submit(client.conversations_open, users=user_id)
        # and the upload reserved meanwhile where the size is known, another round trip that waits for nothing the
        # file does (0.2 s of the end from a server far from Slack); a file that comes out another size (the lines
        # did not stand, and the rows were read from the database) is reserved again (`upload_file`)
        reserved = (
            Reserved(size, beside.submit(client.files_getUploadURLExternal, filename=filename, length=size))
            if size is not None
            else None
        )
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        streamed: Content | None = None
        try:
            with runtime.db.session() as s:
                unread = iter_unreadable(s, run_id=run_id) if unreadable and run_id is not None else None
                lines = new_customer_lines(s, made, workspace_id=workspace_id, run_id=run_id) if whole else None
                if lines is not None and size is not None and made is not None:
                    # the lines stand and the size is known: sent as they are read, a chunk at a time, with no file
                    # written first (the upload waited for the file: 0.16 s at 160,000 new customers)
                    streamed, rows = Content(size, csv_chunks(lines)), made.count
                    log.debug("Import run %s: its CSV sent from the lines gathered as it wrote them", run_id)
                elif lines is not None:  # UTF-8 already: into the file as they are
                    rows = write_csv_lines(lines, raw, unreadable=unread)
                    log.debug("Import run %s: its CSV written from the lines gathered as it wrote them", run_id)
                else:
                    customers = iter_csv_rows(
                        s,
                        workspace_id=workspace_id,
                        run_id=run_id,
                        query=query,
                        connection_id=connection_id,
                        scope=scope,
                    )
                    rows = write_csv_rows(customers, out, unreadable=unread)
        finally:
            out.detach()  # flushed; the bytes stay in `raw`, which the `with` closes
        upload_file(
            client,
            streamed or file_content(raw),
            channel=lambda: str(opened.result()["channel"]["id"]),
            filename=filename,
            initial_comment=comment(rows),
            reserved=reserved,
        )
    return rows


class Content(NamedTuple):
    """What an upload sends: `length` bytes, a chunk at a time."""

    length: int
    chunks: Iterator[bytes]


def file_content(file: BinaryIO) -> Content:
    """A file's bytes from its start, `UPLOAD_CHUNK` bytes at a time."""
    length = file.seek(0, io.SEEK_END)
    file.seek(0)
    return Content(length, iter(functools.partial(file.read, UPLOAD_CHUNK), b""))


class Reserved(NamedTuple):
    """An upload reserved before its file was written (`files.getUploadURLExternal`), for a file of `length` bytes:
    Slack's answer on its way."""

    length: int
    answer: Future[SlackResponse]


UPLOAD_CHUNK = 64 * 1024


def upload_file(
    client: WebClient,
    content: Content,
    *,
    channel: Callable[[], str],
    filename: str,
    initial_comment: str,
    reserved: Reserved | None = None,
) -> None:
    """Slack's upload flow (files.getUploadURLExternal, POST the bytes, files.completeUploadExternal), with the
    bytes streamed in chunks (`content`: a file's, `file_content`, or made as they are sent): slack_sdk's
    `files_upload_v2` reads a whole file into memory, and a CSV of 100,000 customers is tens of megabytes. `channel`
    gives where the file is shared, asked once the bytes are sent (the last step shares it there). `reserved`: the
    upload asked for while the file was made, taken where the file is the size it was asked for (what Slack
    answered it is raised here, as the call's own would be), let go where it is not (never completed, it is shared
    nowhere) and the file's own size asked for."""
    length = content.length
    if reserved is not None and reserved.length == length:
        target = reserved.answer.result()
    else:
        target = client.files_getUploadURLExternal(filename=filename, length=length)
    try:
        with httpx2.Client(timeout=httpx2.Timeout(60.0, connect=10.0), verify=tls_context()) as http:
            answer = http.post(
                str(target["upload_url"]),
                content=content.chunks,
                headers={"Content-Length": str(length), "Content-Type": "application/octet-stream"},
            )
    except httpx2.TransportError as exc:
        raise SlackUnavailable(f"The file upload to Slack failed: {type(exc).__name__}") from exc
    except httpx2.HTTPError as exc:
        raise SlackRequestError(f"The file upload to Slack failed: {type(exc).__name__}") from exc
    if answer.status_code >= 500:
        raise SlackUnavailable(f"Slack did not take the file upload (HTTP {answer.status_code})")
    if answer.status_code != 200:
        raise SlackRequestError(f"Slack refused the file upload (HTTP {answer.status_code})")
    client.files_completeUploadExternal(
        files=[{"id": target["file_id"], "title": filename}],
        channel_id=channel(),
        initial_comment=initial_comment,
    )


def slack_reporters(
    runtime: Runtime, *, progress_every: float = 2.0, delivery: Delivery | None = None
) -> Callable[[], SlackReporter]:
    """What `ImportRunner` takes as `reporters`: a new Slack reporter for each run."""
    return lambda: SlackReporter(runtime, progress_every=progress_every, delivery=delivery)


def _never_raising(run_id: int, tell: Callable[[], None]) -> None:
    try:
        tell()
    except Exception:  # reporting never stops an import, nor what is told after it
        log.exception("Telling the progress of import run %s failed", run_id)


class SlackReporter:
    """A `bot.imports.job.Reporter` for one run: posts the parent message, edits it at most every
    `progress_every` seconds, and replies in its thread for milestones, waits, retries and the end.

    The start and the progress between pages are told from a thread of its own, in order (`started`,
    `progressed`): the parent message's post, each milestone's reply and each edit is a round trip to Slack (100-300
    ms from a server), and the importing thread waited for each before its next page (the first waited for the
    post, three milestones an import). Whatever the reporter tells next waits for what it was handed before
    (`_progress_told`), so Slack gets everything in the order it happened."""

    def __init__(self, runtime: Runtime, *, progress_every: float = 2.0, delivery: Delivery | None = None) -> None:
        self.runtime = runtime
        self.progress_every = progress_every
        self.delivery = delivery or Delivery()
        self._client: WebClient | None = None
        self._channel: str | None = None
        self._parent: str | None = None
        self._edited = -math.inf
        self._quarter = 0
        self._teller: ThreadPoolExecutor | None = None  # tells the start and the progress, in order (`_tell_later`)
        self._told: Future[None] | None = None  # the last of them handed to it

    # -- Reporter --------------------------------------------------------------------------------------------

    def started(self, run: RunView, *, resumed: bool) -> None:
        """Told in the reporter's own thread, as the progress is (`progressed`)."""
        if run.trigger == "schedule":
            return
        self._tell_later(run, functools.partial(self._start_now, run, resumed=resumed))

    def _start_now(self, run: RunView, *, resumed: bool) -> None:
        self._quarter = (run.percent or 0) // 25
        try:
            if run.parent_ts is None:
                self._post_parent(run, views.progress_blocks(run, provider_title=self._title(run)))
            else:
                self._channel, self._parent = run.channel_id, run.parent_ts
                self._edit(run, views.progress_blocks(run, provider_title=self._title(run)))
                if resumed:
                    self._reply(run, text=views.resumed_text(run))
        except SlackUnreachable as exc:  # the end posts the message if it is still missing then
            log.warning("Could not post the progress of import run %s: %s", run.id, exc)

    def progressed(self, run: RunView) -> None:
        """Told in the reporter's own thread (started here when none runs), after the progress before it."""
        if run.trigger == "schedule":
            return
        self._tell_later(run, functools.partial(self._progress_now, run))

    def _tell_later(self, run: RunView, tell: Callable[[], None]) -> None:
        """`tell` in the reporter's own thread, after what was handed to it before (the importing thread calls)."""
        if self._teller is None:
            self._teller = ThreadPoolExecutor(1, thread_name_prefix=f"import-{run.id}-progress")
        self._told = self._teller.submit(_never_raising, run.id, tell)

    def _progress_told(self) -> None:
        """Wait until the start and progress handed over (`_tell_later`) are told: what comes next comes after."""
        if self._told is not None:
            self._told.result()

    def _progress_now(self, run: RunView) -> None:
        quarter = (run.percent or 0) // 25
        if run.total and quarter > self._quarter and quarter < 4:
            self._quarter = quarter
            self._reply(run, text=views.milestone_text(run), must=False)
        if time.monotonic() - self._edited >= self.progress_every:
            self._edit(run, views.progress_blocks(run, provider_title=self._title(run)), must=False)

    def waiting(self, run: RunView, *, seconds: float, limit: str | None) -> None:
        if run.trigger == "schedule":
            return
        self._progress_told()
        text = views.wait_text(self._title(run), seconds=seconds, limit=limit)
        self._reply(run, text=text, must=False)
        self._edit(run, views.progress_blocks(run, provider_title=self._title(run), note=text), must=False)

    def retrying(self, run: RunView, *, attempt: int, retries: int, seconds: float, error: ProviderError) -> None:
        if run.trigger == "schedule":
            return
        self._progress_told()
        text = views.retry_text(
            self._title(run), attempt=attempt, retries=retries, seconds=seconds, error=error.message
        )
        self._reply(run, text=text, must=False)

    def paused(self, run: RunView, *, until: datetime, limit: str | None) -> None:
        if run.trigger == "schedule":
            return
        self._progress_told()
        text = views.paused_text(self._title(run), until=until, limit=limit)
        self._reply(run, text=text, must=False)
        self._edit(run, views.progress_blocks(run, provider_title=self._title(run), note=text), must=False)

    def finished(self, run: RunView, *, made: NewCustomers | None = None) -> bool:
        """Tell the end; False when Slack did not take all of it (what it took is not sent again). `made`: the
        CSV lines of the run's new customers, gathered as its pages were written (`bot.imports.job.Reporter`).

        The CSV of a person's import goes at once, beside the progress still being told: it goes by direct message,
        where the thread's order does not reach, and the end waited for the last progress reply before it (a round
        trip to Slack, 0.2 s from a server far from it) and then for the CSV's three (0.6 s). What comes in the
        run's channel (the parent's result, the summary) still comes after the progress."""
        with ThreadPoolExecutor(1, thread_name_prefix=f"import-{run.id}-csv") as beside:
            csv_to = self._csv_to(run)
            if csv_to is not None:
                self._slack(run)  # the client made before the threads share it
            csv = beside.submit(self._send_csv, run, csv_to, self._title(run), made) if csv_to is not None else None
            self._progress_told()
            if (teller := self._teller) is not None:  # its thread ends now, not when the reporter is collected
                self._teller = None
                teller.shutdown(wait=False)
            try:
                self._tell_end(run, csv)
            except SlackUnreachable as exc:
                log.warning("Slack did not take the end of import run %s (%s); it will be told later", run.id, exc)
                return False
            return True

    @staticmethod
    def _csv_to(run: RunView) -> str | None:
        """Who gets the CSV of the run's new customers (and of the records it could not read): whoever started it,
        once it succeeded with any."""
        wanted = run.status == RunStatus.SUCCEEDED and (run.count("new") or run.count("unreadable"))
        return run.started_by if wanted and run.trigger != "schedule" else None

    # -- the end -----------------------------------------------------------------------------------------------

    def _tell_end(self, run: RunView, csv: Future[bool] | None) -> None:
        """`csv`: the CSV on its way (`finished`), None where the run sends none."""
        title = self._title(run)
        if run.trigger == "schedule":
            self._finished_quietly(run, title)
            if run.changed or run.status == RunStatus.FAILED:  # App Home stays as it was after an idle sync
                self.runtime.workspace_changed(run.team_id)
            return
        if run.status == RunStatus.SUCCEEDED:
            self._summary(run, title, csv)  # the parent's result beside it
        else:
            self._show_result(run, title)
        if run.status == RunStatus.FAILED:
            self._once(
                run,
                "failure",
                lambda: self._reply(
                    run, text=views.failure_text(run), blocks=views.failure_blocks(run, provider_title=title)
                ),
            )
        self.runtime.workspace_changed(run.team_id)

    def _show_result(self, run: RunView, title: str) -> None:
        """The parent message ends as the result: posted if it never was (its `ts` is kept at once, so a second
        telling edits it rather than posting another), edited otherwise."""
        if self._parent is None and run.parent_ts is None:
            self._post_parent(run, views.result_blocks(run, provider_title=title))
        else:
            self._channel = self._channel or run.channel_id
            self._parent = self._parent or run.parent_ts
            self._edit(run, views.result_blocks(run, provider_title=title))

    def _once(self, run: RunView, part: str, send: Callable[[], object]) -> None:
        """Send a part of the end that must not come twice, unless an earlier telling sent it."""
        if part in run.reported_parts:
            return
        send()
        record_reported_part(self.runtime.db, run_id=run.id, part=part)

    def _summary(self, run: RunView, title: str, csv: Future[bool] | None = None) -> None:
        """The parent message ends as the result (`_show_result`) and the summary is replied in its thread, the CSV
        of the new customers (`csv`, on its way: `finished`) sent first to whoever started the run. The parent's
        edit (a round trip to Slack), the summary's queries (new names, possible duplicates: 50 ms at 80,000 new
        customers on SQLite) and the CSV's making and upload (four round trips) go at once: none waits for what
        another does, and one after another they held the summary back by each of them. The summary waits for the
        parent (it is a reply in its thread) and for the CSV (it says whether it was sent)."""
        self._slack(run)  # the client made before the threads share it
        with ThreadPoolExecutor(2, thread_name_prefix=f"import-{run.id}-end") as beside:
            result = beside.submit(self._show_result, run, title)
            shown = beside.submit(self._shown, run, title)
            # raises what Slack did not take: the end is told again later, what it took not sent twice
            csv_to = run.started_by if csv is not None and csv.result() else None
            result.result()
            summary = shown.result()
        summary = dataclasses.replace(summary, csv_to=csv_to)
        self._once(
            run,
            "summary",
            lambda: self._reply(
                run,
                text=views.result_text(run, provider_title=title, details=None),  # this is the thread
                blocks=views.summary_blocks(summary),
            ),
        )

    def _shown(self, run: RunView, title: str) -> views.Summary:
        """What the summary of a run shows, as if its CSV were not sent (`csv_to`). Where the run's counts (written
        with its rows, in the same transactions) say it made no new customer, no possible duplicate or met no
        unreadable record, that list is not looked for: each look at the new customers sorts every one of the run's
        by name (5 ms at 8,000 on SQLite, beside the CSV's own sort at the end of the run)."""
        with self.runtime.db.session() as s:
            new, similar, unread = (run.count(c) for c in ("new", "possible_duplicates", "unreadable"))
            names = new_customer_names(s, run_id=run.id, limit=views.NEW_NAMES_SHOWN) if new else []
            duplicates = possible_duplicates(s, run_id=run.id, limit=views.DUPLICATES_SHOWN) if similar else []
            skips = unreadable_records(s, run_id=run.id, limit=views.UNREADABLE_SHOWN) if unread else []
            return views.Summary(
                run=run,
                provider_title=title,
                new_names=names,
                duplicates=duplicates,
                csv_to=None,
                unreadable=[views.Unreadable(id=r.external_id, name=r.name, reason=r.reason) for r in skips],
                customer_filter=customer_filter_of(s, connection_id=run.connection_id),
                sync=current_plan(s, workspace_id=run.workspace_id),
            )

    def _send_csv(self, run: RunView, user_id: str, title: str, made: NewCustomers | None) -> bool:
        """Send the CSV of the run's new customers to `user_id`; whether it went (now or at an earlier telling)."""
        if "csv" in run.reported_parts:
            return True
        client = self._slack(run)
        if client is None:
            return False
        stamp = (run.finished_at or run.created_at).strftime("%Y-%m-%d")
        sent = self._call(
            run,
            "send the CSV",
            lambda: send_customers_csv(
                self.runtime,
                client,
                user_id=user_id,
                workspace_id=run.workspace_id,
                run_id=run.id,
                filename=f"new-customers-{stamp}.csv",
                comment=lambda rows: views.csv_comment(run, provider_title=title, rows=rows),
                unreadable=bool(run.count("unreadable")),
                made=made,
            ),
        )
        if sent is None:
            return False
        # every customers CSV that leaves is in the audit log: told and audited in one transaction, so that no
        # stop between the two leaves it told (not sent again) and never audited
        with self.runtime.db.session(write_lock=True) as s:
            add_reported_part(s, run_id=run.id, part="csv")
            workspaces.record(
                s,
                workspace_id=run.workspace_id,
                actor=user_id,
                action="customers.exported",
                detail={"rows": sent, "import": run.id},
            )
        return True

    def _finished_quietly(self, run: RunView, title: str) -> None:
        """A scheduled sync: a message only when something changed (no CSV: no one started it); a failure goes to
        the admins."""
        if run.status == RunStatus.SUCCEEDED and (run.changed or run.count("unreadable")):
            self._summary(run, title)  # the parent's result beside it
        elif run.status == RunStatus.FAILED:
            self._tell_admins(run, title)

    def _tell_admins(self, run: RunView, title: str) -> None:
        """Each admin once per failure streak (`failure_notified_at`, set only once all of them were told)."""
        with self.runtime.db.session() as s:
            settings = sync_settings(s, connection_id=run.connection_id)
            if settings.failure_notified_at is not None:
                return  # told already; told again after the next success
            connection, workspace = s.get(Connection, run.connection_id), s.get(Workspace, run.workspace_id)
            assert connection is not None and workspace is not None
            people = [
                u for u in (connection.connected_by, *permissions.added_admins(s, workspace_id=workspace.id)) if u
            ]
        client = self._slack(run)
        if client is None:
            return
        for user_id in dict.fromkeys(people):
            self._once(
                run,
                f"admin:{user_id}",
                lambda user_id=user_id: self._call(  # type: ignore[misc]
                    run,
                    f"tell {user_id} about the sync",
                    lambda: direct_message(
                        client,
                        user_id,
                        text=views.scheduled_failure_text(run, provider_title=title),
                        blocks=views.scheduled_failure_blocks(run, provider_title=title),
                    ),
                ),
            )
        with self.runtime.db.session(write_lock=True) as s:
            settings = sync_settings(s, connection_id=run.connection_id)
            settings.failure_notified_at = settings.failure_notified_at or run.finished_at or self.runtime.clock()

    # -- Slack calls -------------------------------------------------------------------------------------------

    def _call(self, run: RunView, what: str, call: Callable[[], T], *, must: bool = True) -> T | None:
        """Make a Slack call. What Slack refuses for good (not in the channel, uninstalled) is logged and None.
        What may work later (no connection, 5xx, rate limits) is retried with backoff when the call `must`
        reach Slack (the end of a run), then raises `SlackUnreachable`; progress is only logged."""
        try:
            return self.delivery.retrying()(call) if must else call()
        except (SlackApiError, SlackRequestError, OSError, http.client.HTTPException, httpx2.TransportError) as exc:
            detail = exc.response.get("error") if isinstance(exc, SlackApiError) else f"{type(exc).__name__}: {exc}"
            if must and transient(exc):
                raise SlackUnreachable(f"could not {what}: {detail}") from exc
            log.warning("Import run %s: could not %s: %s", run.id, what, detail)
            return None

    def _title(self, run: RunView) -> str:
        return self.runtime.provider_title(run.provider)

    def _slack(self, run: RunView) -> WebClient | None:
        if self._client is None:
            self._client = reporting_client(self.runtime, run.team_id)
        return self._client

    def _post_parent(self, run: RunView, blocks: Blocks) -> None:
        """Post the progress message where the run speaks, or by direct message when the bot cannot."""
        client = self._slack(run)
        if client is None:
            return
        answer = self._call(run, "post its progress", lambda: self._post_where_possible(client, run, blocks))
        if answer is None:
            return
        self._channel, self._parent = answer
        self._edited = time.monotonic()
        record_parent(self.runtime.db, run_id=run.id, channel_id=self._channel, parent_ts=self._parent)

    def _post_where_possible(self, client: WebClient, run: RunView, blocks: Blocks) -> tuple[str, str] | None:
        text = views.result_text(run, provider_title=self._title(run))
        # No channel chosen (App Home, the schedule): the admin who connected. A channel that refuses us:
        # whoever started the import, who can invite the bot there.
        person = (
            (run.connected_by or run.started_by) if run.channel_id is None else (run.started_by or run.connected_by)
        )
        channel = run.channel_id
        if channel is None:
            if person is None:
                log.warning("Import run %s has nowhere to report", run.id)
                return None
            channel = client.conversations_open(users=person)["channel"]["id"]
        try:
            answer = client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            if exc.response.get("error") not in CANNOT_POST_HERE or person is None:
                raise
            log.info("Cannot post import run %s in %s (%s)", run.id, channel, exc.response.get("error"))
            dm = client.conversations_open(users=person)["channel"]["id"]
            client.chat_postMessage(channel=dm, text=views.cannot_post_text(channel))
            answer = client.chat_postMessage(channel=dm, text=text, blocks=blocks)
        return str(answer["channel"]), str(answer["ts"])

    def _edit(self, run: RunView, blocks: Blocks, *, must: bool = True) -> None:
        client = self._slack(run)
        if client is None or self._channel is None or self._parent is None:
            return
        channel, parent = self._channel, self._parent
        text = views.result_text(run, provider_title=self._title(run))
        if self._call(
            run,
            "update its progress",
            lambda: client.chat_update(channel=channel, ts=parent, text=text, blocks=blocks),
            must=must,
        ):
            self._edited = time.monotonic()

    def _reply(self, run: RunView, *, text: str, blocks: Blocks | None = None, must: bool = True) -> None:
        client = self._slack(run)
        if client is None or self._channel is None or self._parent is None:
            return
        channel, parent = self._channel, self._parent
        self._call(
            run,
            "reply in its thread",
            lambda: client.chat_postMessage(channel=channel, thread_ts=parent, text=text, blocks=blocks),
            must=must,
        )
