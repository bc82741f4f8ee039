"""Messages of an import: the progress message with its bar, thread replies, the summary, the one-line result,
failure with Retry, and the customer list. Every name that came from a package is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.customers.lists import Duplicate
from bot.customers.rows import CUSTOMER_FILTERS, DEFAULT_CUSTOMER_FILTER
from bot.imports.runs import ImportState, RunView
from bot.imports.sync import SyncPause, SyncPlan, SyncState
from bot.views.text import bold, button, context, escape, mention, rich, section, slack_date, truncate
from storage.models import RunStatus

Blocks = list[dict[str, Any]]

BAR_CELLS = 20
NEW_NAMES_SHOWN = 20
DUPLICATES_SHOWN = 10
UNREADABLE_SHOWN = 10
LIMIT_WORDS = {
    "day": "its daily limit",
    "second": "its per-second limit",
    "minute": "its per-minute limit",
    "app": "its limit for all apps",
    "concurrent": "its limit on calls at once",
}


def number(n: int) -> str:
    return f"{n:,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{number(n)} {one if n == 1 else (many or one + 's')}"


def duration(span: timedelta | None) -> str:
    seconds = int(span.total_seconds()) if span else 0
    if seconds < 1:
        return "under a second"
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def wait_words(seconds: float) -> str:
    return duration(timedelta(seconds=max(1, round(seconds))))


def progress_bar(percent: int | None) -> str:
    if percent is None:
        return "`" + "░" * BAR_CELLS + "`"
    filled = percent * BAR_CELLS // 100
    return f"`{'█' * filled}{'░' * (BAR_CELLS - filled)}` {percent}%"


def source(run: RunView, provider_title: str, *, mrkdwn: bool = True) -> str:
    """`<package> (Acme Plumbing Ltd)`: escaped for mrkdwn, or as written for rich text."""
    if not mrkdwn:
        return f"{provider_title} ({run.organisation})"
    return f"{escape(provider_title)} ({escape(run.organisation)})"


def title(run: RunView, provider_title: str, *, mrkdwn: bool = True) -> str:
    what = "Syncing" if run.kind == "incremental" else "Importing"
    return f"{what} customers from {source(run, provider_title, mrkdwn=mrkdwn)}…"


def counts_line(run: RunView) -> str:
    read = f"{number(run.processed)} of {number(run.total)}" if run.total else number(run.processed)
    parts = [f"{read} contacts read", f"{number(run.count('new'))} new", f"{number(run.count('updated'))} updated"]
    if run.count("unchanged"):
        parts.append(f"{number(run.count('unchanged'))} unchanged")
    if run.count("skipped"):
        parts.append(f"{number(run.count('skipped'))} skipped")
    if run.count("unreadable"):
        parts.append(f"{number(run.count('unreadable'))} unreadable")
    return " · ".join(parts)


def cancel_actions(run: RunView) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "import_controls",
        "elements": [
            button(
                "Cancel",
                "import_cancel",
                value=str(run.id),
                style="danger",
            )
            | {
                "confirm": {
                    "title": {"type": "plain_text", "text": "Cancel the import?"},
                    "text": {"type": "plain_text", "text": "What was imported so far is kept."},
                    "confirm": {"type": "plain_text", "text": "Cancel it"},
                    "deny": {"type": "plain_text", "text": "Keep going"},
                }
            }
        ],
    }


def progress_blocks(run: RunView, *, provider_title: str, note: str | None = None) -> Blocks:
    """The parent message while the run is queued, running or waiting."""
    started = f"Started by {mention(run.started_by)}" if run.started_by else "Scheduled sync"
    blocks = [
        rich(bold(title(run, provider_title, mrkdwn=False))),
        section(f"{progress_bar(run.percent)}\n{counts_line(run)}"),
        context(note or started),
    ]
    if run.cancel_requested:
        blocks.append(context("Cancelling at the next page…"))
    else:
        blocks.append(cancel_actions(run))
    return blocks


THREAD = "Details in the thread."


def result_text(run: RunView, *, provider_title: str, details: str | None = THREAD) -> str:
    """The one line the parent message ends as. `details`: where to read more (the thread, from the parent
    message; a link, on App Home; nothing, in the thread itself)."""
    more = f" {details}" if details else ""
    if run.status == RunStatus.SUCCEEDED:
        what = "Synced" if run.kind == "incremental" else "Imported"
        took = duration(run.duration)
        if not (run.count("new") or run.count("updated") or run.count("failed") or run.count("unreadable")):
            checked = f"{plural(run.processed, 'contact')} checked" if run.processed else "no contact changed there"
            return (
                f":white_check_mark: {what} customers from {source(run, provider_title)}: nothing changed here "
                f"({checked}, in {took}).{more}"
            )
        parts = [f"{number(run.count(name))} {name}" for name in ("new", "updated", "unchanged", "skipped")]
        parts += [f"{number(run.count(name))} {name}" for name in ("failed", "unreadable") if run.count(name)]
        return (
            f":white_check_mark: {what} customers from {source(run, provider_title)}: "
            f"{', '.join(p for p in parts if not p.startswith('0 '))} in {took}.{more}"
        )
    if run.status == RunStatus.CANCELLED:
        who = f" by {mention(run.cancelled_by)}" if run.cancelled_by else ""
        return (
            f":no_entry_sign: Import from {source(run, provider_title)} cancelled{who} after "
            f"{plural(run.processed, 'contact')}; the {plural(run.changed, 'customer')} imported so far are kept."
        )
    if run.status == RunStatus.FAILED:
        return (
            f":x: Import from {source(run, provider_title)} stopped after {plural(run.processed, 'contact')}. "
            "What was imported is kept; Retry carries on from there."
        )
    return title(run, provider_title)


def result_blocks(run: RunView, *, provider_title: str) -> Blocks:
    blocks = [section(result_text(run, provider_title=provider_title))]
    if run.status == RunStatus.FAILED:
        blocks.append(retry_actions(run))
    return blocks


def retry_actions(run: RunView) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "import_failed",
        "elements": [button("Retry", "import_retry", value=str(run.id), style="primary")],
    }


def milestone_text(run: RunView) -> str:
    return f"Read {number(run.processed)} of {number(run.total or 0)} contacts ({run.percent}%)."


def resumed_text(run: RunView) -> str:
    return (
        f":arrows_counterclockwise: Picked up again after an interruption, carrying on after "
        f"{plural(run.processed, 'contact')}."
    )


def wait_text(provider_title: str, *, seconds: float, limit: str | None) -> str:
    reason = f" ({LIMIT_WORDS[limit]})" if limit in LIMIT_WORDS else ""
    resuming = f"resuming in {wait_words(seconds)}{reason}"
    return f":hourglass_flowing_sand: {escape(provider_title)} asked us to slow down, {resuming}."


def retry_text(provider_title: str, *, attempt: int, retries: int, seconds: float, error: str) -> str:
    return (
        f":warning: {escape(provider_title)} is not answering properly ({escape(error)}). "
        f"Trying again in {wait_words(seconds)} (attempt {attempt} of {retries})."
    )


def paused_text(provider_title: str, *, until: datetime, limit: str | None) -> str:
    reason = LIMIT_WORDS.get(limit or "", "its rate limit")
    return (
        f":double_vertical_bar: {escape(provider_title)} has reached {reason}, so the import is paused. "
        f"It resumes by itself at {slack_date(until)}, carrying on from where it stopped."
    )


def failure_text(run: RunView) -> str:
    return f":x: The import stopped. {escape(run.error or 'Something went wrong.')}"


def failure_blocks(run: RunView, *, provider_title: str) -> Blocks:
    """In the thread: what happened, what was kept, and Retry."""
    kept = (
        f"The {plural(run.changed, 'customer')} imported before it stopped are kept"
        if run.changed
        else "Nothing was changed"
    )
    return [
        section(failure_text(run).replace("The import stopped.", "*The import stopped.*", 1)),
        section(f"{kept}. *Retry* carries on from the last page that was saved."),
        retry_actions(run),
    ]


@dataclass(frozen=True)
class Unreadable:
    """A record the package sent that could not be imported, and why."""

    id: str | None
    name: str | None
    reason: str


@dataclass(frozen=True)
class Summary:
    run: RunView
    provider_title: str
    new_names: Sequence[str]
    duplicates: Sequence[Duplicate]
    csv_to: str | None  # who got the full list by direct message
    unreadable: Sequence[Unreadable] = ()  # the first of the records that could not be imported
    customer_filter: str = DEFAULT_CUSTOMER_FILTER  # which contacts counted as customers for this run
    sync: SyncPlan | None = None  # the scheduled sync, as it stands after this run


def unreadable_text(run: RunView, records: Sequence[Unreadable], *, provider_title: str) -> str:
    """`2 contacts could not be read from <package>: Acme Ltd (it has no id), id 42 (its id is not text).`"""
    total = run.count("unreadable")
    named = [
        f"{escape(r.name) if r.name else 'id ' + escape(r.id) if r.id else 'a contact without a name or id'}"
        f" ({escape(r.reason)})"
        for r in records
    ]
    more = f", and {number(total - len(records))} more" if total > len(records) else ""
    return truncate(
        f"*{plural(total, 'contact')} could not be read from {escape(provider_title)}:* {', '.join(named)}{more}. "
        "They were left out; the rest were imported.",
        3000,
    )


def skipped_words(run: RunView, customer_filter: str) -> str | None:
    """Why contacts were skipped, broken down: not customers under the setting, archived (or merged, or erased)
    at the package, or erased here on request."""
    total = run.count("skipped")
    if not total:
        return None
    suppliers, archived = run.count("skipped_suppliers"), run.count("skipped_archived")
    erased_here = max(0, total - suppliers - archived)
    parts = []
    if suppliers:
        parts.append(
            f"{number(suppliers)} not customers under the setting ({contact_filter_words(customer_filter)}; "
            "`/accounts import contacts` changes it)"
        )
    if archived:
        parts.append(f"{number(archived)} archived, merged or erased in the accounting package")
    if erased_here:
        parts.append(f"{number(erased_here)} erased here on a data-protection request")
    return f"Skipped {number(total)}: " + ", ".join(parts) + "."


def summary_blocks(summary: Summary) -> Blocks:
    """The thread reply when a run succeeds."""
    run = summary.run
    heading = "Sync finished" if run.kind == "incremental" else "Import finished"
    fields = [
        ("New", run.count("new")),
        ("Updated", run.count("updated")),
        ("Unchanged", run.count("unchanged")),
        ("Skipped", run.count("skipped")),
        ("Failed", run.count("failed")),
    ]
    if run.count("unreadable"):
        fields.append(("Unreadable", run.count("unreadable")))
    blocks: Blocks = [
        section(
            f"*{heading}* in {duration(run.duration)}: {plural(run.processed, 'contact')} read from "
            f"{source(run, summary.provider_title)}."
        ),
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{number(n)}"} for name, n in fields],
        },
    ]
    details = []
    skipped = skipped_words(run, summary.customer_filter)
    if skipped:
        details.append(skipped)
    if run.count("no_longer_customers"):
        details.append(
            f"{plural(run.count('no_longer_customers'), 'customer')} imported earlier no longer "
            f"{'counts' if run.count('no_longer_customers') == 1 else 'count'} as "
            f"{'a customer' if run.count('no_longer_customers') == 1 else 'customers'} under the current setting "
            f"({contact_filter_words(summary.customer_filter)}); they are kept, and listed with "
            "`/accounts customers`. The setting decides which contacts new to accounts-bot are imported."
        )
    if run.count("linked"):
        details.append(
            f"{plural(run.count('linked'), 'customer')} from an earlier connection linked by email and name."
        )
    if run.count("inactive"):
        details.append(f"{plural(run.count('inactive'), 'customer')} marked inactive (archived or merged).")
    if run.count("erased"):
        details.append(f"{plural(run.count('erased'), 'customer')} erased here too, on a data-protection request.")
    if details:
        blocks.append(context(*details))
    if run.count("unreadable"):
        blocks.append(section(unreadable_text(run, summary.unreadable, provider_title=summary.provider_title)))
    missing = [(n, what) for what in ("email", "phone", "address") if (n := run.count(f"missing_{what}"))]
    if missing:
        blocks.append(
            section(
                "*Missing essential data:* "
                + ", ".join(
                    f"{number(n)} without {'an' if what == 'email' or what == 'address' else 'a'} {what}"
                    for n, what in missing
                )
                + "."
            )
        )
    if summary.duplicates:
        lines = [f"• {escape(d.name)} _may be the same as_ {escape(d.similar_to)}" for d in summary.duplicates]
        more = run.count("possible_duplicates") - len(summary.duplicates)
        if more > 0:
            lines.append(f"…and {number(more)} more.")
        blocks.append(
            section(
                truncate(
                    f"*Possible duplicates to review* ({number(run.count('possible_duplicates'))}):\n"
                    + "\n".join(lines),
                    3000,
                )
            )
        )
    if summary.new_names:
        shown = ", ".join(escape(n) for n in summary.new_names)
        total = run.count("new")
        heading = (
            f"*New customers* (the first {len(summary.new_names)} of {number(total)})"
            if total > len(summary.new_names)
            else "*New customers*"
        )
        blocks.append(section(truncate(f"{heading}: {shown}", 3000)))
    if summary.csv_to:
        blocks.append(
            context(f"The full list with contact details went to {mention(summary.csv_to)} by direct message.")
        )
    if summary.sync is not None and run.kind != "incremental":
        blocks.append(context(f"*Scheduled sync:* {sync_words(summary.sync)}."))
    return blocks


def csv_comment(run: RunView, *, provider_title: str, rows: int) -> str:
    unreadable = run.count("unreadable")
    also = (
        f" At the end, the {plural(unreadable, 'contact')} that could not be read, with the reason."
        if unreadable
        else ""
    )
    return (
        f"The {plural(rows, 'new customer')} imported from {source(run, provider_title)}, with their contact "
        f"details.{also} This is personal data: please keep it safe."
    )


def cannot_post_text(channel_id: str) -> str:
    return (
        f"I can't post in <#{channel_id}> (I'm not a member of it, or it's private), so I'll report the import "
        f"here. To have me post there next time, type `/invite @accounts-bot` in <#{channel_id}>."
    )


def already_running_text(run: RunView, *, provider_title: str, link: str | None) -> str:
    if link:
        where = f"<{link}|see its progress in its thread>"
    elif run.channel_id:
        where = f"its progress will appear in <#{run.channel_id}> as soon as it starts"
    else:
        where = "I'll tell you here when it ends"
    state = "is paused until " + slack_date(run.not_before) if run.not_before else "is already running"
    return f"An import from {source(run, provider_title)} {state}; {where}. I didn't start another."


def queued_text(run: RunView, *, provider_title: str) -> str:
    where = f" Progress will appear in <#{run.channel_id}>." if run.channel_id else ""
    return f"Starting the import of your customers from {source(run, provider_title)}.{where}"


def scheduled_failure_text(run: RunView, *, provider_title: str) -> str:
    return (
        f":warning: The scheduled sync of customers from {source(run, provider_title)} failed: "
        f"{escape(run.error or 'something went wrong')} It will try again at its next scheduled time, "
        "or press Retry now."
    )


def scheduled_failure_blocks(run: RunView, *, provider_title: str) -> Blocks:
    return [section(scheduled_failure_text(run, provider_title=provider_title)), retry_actions(run)]


# --- App Home ---------------------------------------------------------------------------------------------------


def interval_words(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


PAUSES = {
    SyncPause.SLACK_REMOVED: "accounts-bot was removed from Slack (or its token revoked); syncs resume once it "
    "is installed again, or restarted with a working token",
    SyncPause.NEEDS_RECONNECT: "the connection needs reconnecting; an admin can run `/accounts connect`",
}


def sync_words(plan: SyncPlan) -> str:
    """The scheduled sync in one line, the same on App Home, in status and in `/accounts sync`."""
    every = interval_words(plan.interval_minutes)
    if plan.state == SyncState.OFF:
        return "off. `/accounts sync on` turns it on; `/accounts import` still works any time"
    if plan.paused is not None:
        return f"on, every {every}, but *not running*: {PAUSES[plan.paused]}"
    if plan.state == SyncState.AFTER_FIRST_IMPORT:
        return f"on, every {every}. The first sync runs {every_from(plan)} after your first import ends"
    if plan.next_at is None:
        return f"on, every {every}"
    return f"on, every {every}; the next one runs {slack_date(plan.next_at)}"


def every_from(plan: SyncPlan) -> str:
    return "an hour" if plan.interval_minutes == 60 else interval_words(plan.interval_minutes)


def sync_changed_text(plan: SyncPlan) -> str:
    return f"*Scheduled sync:* {sync_words(plan)}. It brings in only what changed since the last one."


def home_import_blocks(
    state: ImportState,
    *,
    provider_title: str,
    admin: bool = True,
    may_import: bool = True,
    thread_link: str | None = None,
) -> Blocks:
    """The import part of App Home. `admin`: the viewer may change the sync and the channel; `may_import`: may
    start (and cancel) an import. Others see how things stand, without controls that would only refuse them."""
    lines = [f"*Customers:* {number(state.customers)} imported"]
    if state.kept:
        kept = ", ".join(f"{number(k.customers)} from {escape(k.organisation_name)}" for k in state.kept)
        lines.append(f"*Kept from organisations no longer connected:* {kept} (`/accounts customers` shows them apart)")
    run = state.latest
    if run is not None:
        if run.active:
            percent = f" ({run.percent}%)" if run.percent is not None else ""
            lines.append(f"*Import:* {title(run, provider_title)}{percent}")
        elif run.finished_at is not None:
            lines.append(
                f"*Last import:* {result_text(run, provider_title=provider_title, details=None)} "
                f"({slack_date(run.finished_at)})" + (f" <{thread_link}|Details in its thread>" if thread_link else "")
            )
    lines.append(f"*Sync:* {sync_words(state.sync)}")
    channel = (
        f"<#{state.notification_channel_id}>"
        if state.notification_channel_id
        else "direct message to the admin who connected"
    )
    lines.append(f"*Reports go to:* {channel}")
    picker: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": "notification_channel",
        "placeholder": {"type": "plain_text", "text": "Channel for imports and syncs"},
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if state.notification_channel_id:
        picker["initial_conversation"] = state.notification_channel_id
    elements: list[dict[str, Any]] = []
    if may_import:
        if run is not None and run.active:
            elements.append(cancel_actions(run)["elements"][0])
        else:
            elements.append(button("Import customers", "import_start", value="home", style="primary"))
    if admin:
        if state.sync.state != SyncState.OFF:
            elements.append(button("Turn sync off", "sync_off"))
        else:
            elements.append(button("Turn sync on", "sync_on"))
        elements.append(picker)
    blocks = [section(truncate("\n".join(lines), 3000))]
    if elements:
        blocks.append({"type": "actions", "block_id": "home_import", "elements": elements})
    if admin:
        blocks.append(
            context(
                "Imports started here and scheduled syncs report in that channel: pick it above, or type "
                "`/accounts channel #name` (or `/accounts channel here` in the channel itself)."
            )
        )
    else:
        can = "You can import customers here and see them with `/accounts customers`. " if may_import else ""
        blocks.append(
            context(
                f"{can}Admins connect the package, map account codes and set the sync and the channel; "
                "`/accounts admins` says who they are."
            )
        )
    return blocks


# --- Which contacts are imported ----------------------------------------------------------------------------------

# What people type for each of `bot.customers.CUSTOMER_FILTERS`, in the order they are offered.
CONTACT_CHOICES = {"not-suppliers": "all_but_suppliers", "customers": "customers_only", "all": "all"}


def contact_filter_words(customer_filter: str) -> str:
    return CUSTOMER_FILTERS.get(customer_filter, customer_filter)


def contact_choices(command: str, current: str | None = None) -> str:
    """One line per setting: the command that chooses it and what it means."""
    lines = []
    for word, setting in CONTACT_CHOICES.items():
        notes = ["the default"] if setting == DEFAULT_CUSTOMER_FILTER else []
        if setting == current:
            notes.append("now")
        also = f" _({', '.join(notes)})_" if notes else ""
        lines.append(f"• `{command} import contacts {word}`: {contact_filter_words(setting)}{also}")
    return "\n".join(lines)


def contacts_text(customer_filter: str, *, command: str) -> str:
    """`/accounts import contacts`: the setting, and how an admin changes it."""
    return (
        f"*Contacts imported as customers:* {contact_filter_words(customer_filter)}. An admin can change it:\n"
        + contact_choices(command, customer_filter)
    )


def unknown_contacts_text(word: str, *, command: str) -> str:
    choices = contact_choices(command)
    return f"I don't know `{escape(word)}`. Choose which contacts are imported as customers:\n{choices}"


def contacts_changed_text(old: str, new: str) -> str:
    if old == new:
        return f"Contacts imported as customers are already *{contact_filter_words(new)}*; nothing changed."
    return (
        f"Contacts imported as customers are now *{contact_filter_words(new)}* "
        f"(until now: {contact_filter_words(old)}). This applies from the next import, to contacts new to "
        "accounts-bot; customers already imported stay, and the next import's summary says how many of them no "
        "longer count."
    )


def contacts_changed_blocks(old: str, new: str, *, command: str) -> Blocks:
    blocks = [section(contacts_changed_text(old, new))]
    if old != new:
        blocks += [
            {
                "type": "actions",
                "block_id": "contacts_import",
                "elements": [button("Import now", "import_start", value="contacts", style="primary")],
            },
            context(f"Or run `{command} import` when you are ready."),
        ]
    return blocks
