"""Telling Slack how an import goes: the progress message and its thread, the summary, the CSV by direct message,
and the fallback to a direct message when the bot cannot post in the channel.

A scheduled sync stays quiet unless it changed something; when it fails, the admins get a direct message.
Slack trouble never stops an import: every call here is logged and skipped when Slack refuses it.
"""

from __future__ import annotations

import io
import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO

import httpx2
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.customers.lists import iter_customers, new_customer_names, possible_duplicates, write_csv
from bot.imports.runs import RunView, record_parent
from bot.imports.sync import sync_settings
from bot.runtime import Runtime
from bot.slack.notify import CANNOT_POST_HERE, direct_message
from bot.views import importing as views
from bot.workspaces import permissions
from providers.base import ProviderError
from storage.models import Connection, RunStatus, Workspace

log = logging.getLogger(__name__)

Blocks = list[dict[str, Any]]


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
) -> int:
    """Write the customers to a temporary CSV file (streamed from the database) and upload it into the
    person's direct message with the bot; returns how many rows it had."""
    with tempfile.TemporaryFile("w+b") as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            with runtime.db.session() as s:
                rows = write_csv(iter_customers(s, workspace_id=workspace_id, run_id=run_id, query=query), out)
        finally:
            out.detach()  # flushed; the bytes stay in `raw`, which the `with` closes
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        upload_file(client, raw, channel=channel, filename=filename, initial_comment=comment(rows))
    return rows


UPLOAD_CHUNK = 64 * 1024


def upload_file(client: WebClient, file: BinaryIO, *, channel: str, filename: str, initial_comment: str) -> None:
    """Slack's upload flow (files.getUploadURLExternal, POST the bytes, files.completeUploadExternal), with the
    bytes streamed from `file` in chunks: slack_sdk's `files_upload_v2` reads a whole file into memory, and a
    CSV of 100,000 customers is tens of megabytes."""
    length = file.seek(0, io.SEEK_END)
    file.seek(0)
    reserved = client.files_getUploadURLExternal(filename=filename, length=length)

    def chunks() -> Iterator[bytes]:
        while block := file.read(UPLOAD_CHUNK):
            yield block

    try:
        with httpx2.Client(timeout=httpx2.Timeout(60.0, connect=10.0)) as http:
            answer = http.post(
                str(reserved["upload_url"]),
                content=chunks(),
                headers={"Content-Length": str(length), "Content-Type": "application/octet-stream"},
            )
    except httpx2.HTTPError as exc:
        raise SlackRequestError(f"The file upload to Slack failed: {type(exc).__name__}") from exc
    if answer.status_code != 200:
        raise SlackRequestError(f"Slack refused the file upload (HTTP {answer.status_code})")
    client.files_completeUploadExternal(
        files=[{"id": reserved["file_id"], "title": filename}], channel_id=channel, initial_comment=initial_comment
    )


def slack_reporters(runtime: Runtime, *, progress_every: float = 2.0) -> Callable[[], SlackReporter]:
    """What `ImportRunner` takes as `reporters`: a new Slack reporter for each run."""
    return lambda: SlackReporter(runtime, progress_every=progress_every)


class SlackReporter:
    """A `bot.imports.job.Reporter` for one run: posts the parent message, edits it at most every
    `progress_every` seconds, and replies in its thread for milestones, waits, retries and the end."""

    def __init__(self, runtime: Runtime, *, progress_every: float = 2.0) -> None:
        self.runtime = runtime
        self.progress_every = progress_every
        self._client: WebClient | None = None
        self._channel: str | None = None
        self._parent: str | None = None
        self._edited = -math.inf
        self._quarter = 0

    # -- Reporter --------------------------------------------------------------------------------------------

    def started(self, run: RunView, *, resumed: bool) -> None:
        if run.trigger == "schedule":
            return
        self._quarter = (run.percent or 0) // 25
        if run.parent_ts is None:
            self._post_parent(run, views.progress_blocks(run, provider_title=self._title(run)))
        else:
            self._channel, self._parent = run.channel_id, run.parent_ts
            self._edit(run, views.progress_blocks(run, provider_title=self._title(run)))
            if resumed:
                self._reply(run, text=views.resumed_text(run))

    def progressed(self, run: RunView) -> None:
        if run.trigger == "schedule":
            return
        quarter = (run.percent or 0) // 25
        if run.total and quarter > self._quarter and quarter < 4:
            self._quarter = quarter
            self._reply(run, text=views.milestone_text(run))
        if time.monotonic() - self._edited >= self.progress_every:
            self._edit(run, views.progress_blocks(run, provider_title=self._title(run)))

    def waiting(self, run: RunView, *, seconds: float, limit: str | None) -> None:
        if run.trigger == "schedule":
            return
        text = views.wait_text(self._title(run), seconds=seconds, limit=limit)
        self._reply(run, text=text)
        self._edit(run, views.progress_blocks(run, provider_title=self._title(run), note=text))

    def retrying(self, run: RunView, *, attempt: int, retries: int, seconds: float, error: ProviderError) -> None:
        if run.trigger == "schedule":
            return
        self._reply(
            run,
            text=views.retry_text(
                self._title(run), attempt=attempt, retries=retries, seconds=seconds, error=error.message
            ),
        )

    def paused(self, run: RunView, *, until: datetime, limit: str | None) -> None:
        if run.trigger == "schedule":
            return
        text = views.paused_text(self._title(run), until=until, limit=limit)
        self._reply(run, text=text)
        self._edit(run, views.progress_blocks(run, provider_title=self._title(run), note=text))

    def finished(self, run: RunView) -> None:
        title = self._title(run)
        if run.trigger == "schedule":
            self._finished_quietly(run, title)
            if run.changed or run.status == RunStatus.FAILED:  # App Home stays as it was after an idle sync
                self.runtime.workspace_changed(run.team_id)
            return
        if self._parent is None and run.parent_ts is None:  # cancelled or failed before it started
            self._post_parent(run, views.result_blocks(run, provider_title=title))
        else:
            self._channel = self._channel or run.channel_id
            self._parent = self._parent or run.parent_ts
            self._edit(run, views.result_blocks(run, provider_title=title))
        if run.status == RunStatus.SUCCEEDED:
            self._summary(run, title)
        elif run.status == RunStatus.FAILED:
            self._reply(run, text=views.failure_text(run), blocks=views.failure_blocks(run, provider_title=title))
        self.runtime.workspace_changed(run.team_id)

    # -- the end -----------------------------------------------------------------------------------------------

    def _summary(self, run: RunView, title: str) -> None:
        with self.runtime.db.session() as s:
            names = new_customer_names(s, run_id=run.id, limit=views.NEW_NAMES_SHOWN)
            duplicates = possible_duplicates(s, run_id=run.id, limit=views.DUPLICATES_SHOWN)
        csv_to = run.started_by if run.count("new") and run.started_by else None
        if csv_to and not self._send_csv(run, csv_to, title):
            csv_to = None
        summary = views.Summary(run=run, provider_title=title, new_names=names, duplicates=duplicates, csv_to=csv_to)
        self._reply(run, text=views.result_text(run, provider_title=title), blocks=views.summary_blocks(summary))

    def _send_csv(self, run: RunView, user_id: str, title: str) -> bool:
        client = self._slack(run)
        if client is None:
            return False
        stamp = (run.finished_at or run.created_at).strftime("%Y-%m-%d")
        try:
            send_customers_csv(
                self.runtime,
                client,
                user_id=user_id,
                workspace_id=run.workspace_id,
                run_id=run.id,
                filename=f"new-customers-{stamp}.csv",
                comment=lambda rows: views.csv_comment(run, provider_title=title, rows=rows),
            )
        except SlackApiError as exc:
            log.warning("Could not send the CSV of import run %s: %s", run.id, exc.response.get("error"))
            return False
        except SlackRequestError as exc:
            log.warning("Could not send the CSV of import run %s: %s", run.id, exc)
            return False
        return True

    def _finished_quietly(self, run: RunView, title: str) -> None:
        """A scheduled sync: a message only when something changed; a failure goes to the admins."""
        if run.status == RunStatus.SUCCEEDED and run.changed:
            self._post_parent(run, views.result_blocks(run, provider_title=title))
            self._summary(run, title)
        elif run.status == RunStatus.FAILED:
            self._tell_admins(run, title)

    def _tell_admins(self, run: RunView, title: str) -> None:
        with self.runtime.db.session(write_lock=True) as s:
            settings = sync_settings(s, connection_id=run.connection_id)
            if settings.failure_notified_at is not None:
                return  # told already; told again after the next success
            settings.failure_notified_at = run.finished_at or self.runtime.clock()
            connection, workspace = s.get(Connection, run.connection_id), s.get(Workspace, run.workspace_id)
            assert connection is not None and workspace is not None
            people = [
                u for u in (connection.connected_by, *permissions.added_admins(s, workspace_id=workspace.id)) if u
            ]
        client = self._slack(run)
        if client is None:
            return
        for user_id in dict.fromkeys(people):
            try:
                direct_message(
                    client,
                    user_id,
                    text=views.scheduled_failure_text(run, provider_title=title),
                    blocks=views.scheduled_failure_blocks(run, provider_title=title),
                )
            except SlackApiError as exc:
                log.warning("Could not tell %s about sync run %s: %s", user_id, run.id, exc.response.get("error"))

    # -- Slack calls -------------------------------------------------------------------------------------------

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
        text = views.result_text(run, provider_title=self._title(run))
        # No channel chosen (App Home, the schedule): the admin who connected. A channel that refuses us:
        # whoever started the import, who can invite the bot there.
        person = (
            (run.connected_by or run.started_by) if run.channel_id is None else (run.started_by or run.connected_by)
        )
        try:
            channel = run.channel_id
            if channel is None:
                if person is None:
                    log.warning("Import run %s has nowhere to report", run.id)
                    return
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
        except SlackApiError as exc:
            log.warning("Could not post the progress of import run %s: %s", run.id, exc.response.get("error"))
            return
        self._channel, self._parent = str(answer["channel"]), str(answer["ts"])
        self._edited = time.monotonic()
        record_parent(self.runtime.db, run_id=run.id, channel_id=self._channel, parent_ts=self._parent)

    def _edit(self, run: RunView, blocks: Blocks) -> None:
        client = self._slack(run)
        if client is None or self._channel is None or self._parent is None:
            return
        try:
            client.chat_update(
                channel=self._channel,
                ts=self._parent,
                text=views.result_text(run, provider_title=self._title(run)),
                blocks=blocks,
            )
            self._edited = time.monotonic()
        except SlackApiError as exc:
            log.warning("Could not update the progress of import run %s: %s", run.id, exc.response.get("error"))

    def _reply(self, run: RunView, *, text: str, blocks: Blocks | None = None) -> None:
        client = self._slack(run)
        if client is None or self._channel is None or self._parent is None:
            return
        try:
            client.chat_postMessage(channel=self._channel, thread_ts=self._parent, text=text, blocks=blocks)
        except SlackApiError as exc:
            log.warning("Could not reply about import run %s: %s", run.id, exc.response.get("error"))
