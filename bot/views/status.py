"""`/accounts status` and the App Home tab, built from a `StatusReport`."""

from __future__ import annotations

from typing import Any

from bot.status import ConnectionReport, StatusReport
from bot.views.connect import connect_button
from bot.views.importing import contact_filter_words, home_import_blocks, sync_words
from bot.views.mapping import problem_words, tax_problem_words
from bot.views.text import bold, button, context, escape, mention, rich, section, slack_date, truncate

HEALTH = {
    "ok": ":large_green_circle: Healthy",
    "refresh_due": ":large_yellow_circle: Will refresh its log-in soon",
    "needs_reconnect": ":red_circle: Needs reconnecting: an admin should run `/accounts connect`",
}


def status_blocks(report: StatusReport, *, with_sync: bool = True) -> list[dict[str, Any]]:
    """`with_sync`: include the scheduled sync's line (App Home shows it beside its sync button instead)."""
    connection = report.connection
    if connection is None:
        commands = " or ".join(f"`/accounts connect {name}`" for name, _ in report.providers)
        how = (
            f"An admin can connect one with {commands}."
            if commands
            else "No accounting package is set up on this bot yet: whoever runs it can add one (`accounts-bot doctor`)."
        )
        gone = report.disconnected
        if gone is None:
            return [section(":electric_plug: *No accounting package is connected yet.*"), section(how)]
        when = f" on {slack_date(gone.disconnected_at)}" if gone.disconnected_at else ""
        return [
            section(
                f":electric_plug: *Disconnected.* {escape(gone.provider_title)} "
                f"({escape(gone.organisation_name)}) was disconnected{when}; the customers imported from it are kept."
            ),
            section(f"{how} Reconnecting the same organisation keeps its account mapping."),
        ]
    lines = [
        f"Connected by {mention(connection.connected_by)} on {slack_date(connection.connected_at)}",
        HEALTH.get(connection.health, escape(connection.health)),
    ]
    blocks = [
        section(":white_check_mark: *Accounting package connected*"),
        rich(bold(connection.provider_title), ": ", bold(connection.organisation_name)),
        section("\n".join(lines)),
    ]
    if connection.health_detail:
        blocks.append(context(escape(connection.health_detail)))
    blocks += mapping_blocks(connection)
    contacts = contact_filter_words(connection.customer_filter)
    blocks.append(
        section(
            f":busts_in_silhouette: *Contacts imported as customers:* {contacts} "
            "(`/accounts import contacts` to change it)."
        )
    )
    if with_sync and connection.imports is not None:
        blocks.append(section(f":repeat: *Scheduled sync:* {sync_words(connection.imports.sync)}."))
    return blocks


def mapping_blocks(connection: ConnectionReport) -> list[dict[str, Any]]:
    """Whether the account codes are mapped, and what went stale since (an account or a default tax code archived
    or gone)."""
    mapping = connection.mapping
    if mapping is None:
        return []
    if not mapping.started:
        return [
            section(
                ":large_yellow_circle: *Account codes are not mapped yet.* An admin can map them with `/accounts map`."
            )
        ]
    checked = (
        f"Checked against the chart of accounts from {escape(connection.provider_title)} as of "
        f"{slack_date(mapping.chart_refreshed_at)}."
        if mapping.chart_refreshed_at
        else ""
    )
    saved = f"Last saved by {mention(mapping.saved_by)} on {slack_date(mapping.saved_at)}." if mapping.saved_at else ""
    if mapping.needs_attention:
        lines = [
            f"• *{escape(p.category.label)}*: {escape(problem_words(p, connection.provider_title))}"
            for p in mapping.problems
        ]
        lines += [
            f"• *{escape(p.category.label)}*: {escape(tax_problem_words(p, connection.provider_title))}"
            for p in mapping.tax_problems
        ]
        return [
            section(":warning: *The account mapping needs attention.* An admin can fix it with `/accounts map`."),
            section(truncate("\n".join(lines), 3000)),
            context(" ".join(t for t in (saved, checked) if t)),
        ]
    words = "category" if mapping.mapped == 1 else "categories"
    return [
        section(f":large_green_circle: Account codes mapped for {mapping.mapped} {words}."),
        context(" ".join(t for t in (saved, checked) if t)),
    ]


def home_view(report: StatusReport, *, admin: bool = True, thread_link: str | None = None) -> dict[str, Any]:
    """App Home for an admin (every control), or for anyone else: what they may do (import, when staff may).
    `thread_link`: where the latest import's thread is."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Accounting connection"}},
        *status_blocks(report, with_sync=False),
    ]
    if not admin:
        if report.connection is not None and report.connection.imports is not None:
            imports = home_import_blocks(
                report.connection.imports,
                provider_title=report.connection.provider_title,
                admin=False,
                may_import=report.staff_may_import,
                thread_link=thread_link,
            )
            blocks += [{"type": "divider"}, *imports]
    elif report.connection is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": "home_manage",
                "elements": [
                    button("Map account codes", "open_mapping", style="primary"),
                    button("Disconnect", "disconnect_start", style="danger"),
                ],
            }
        )
        if report.connection.imports is not None:
            imports = home_import_blocks(
                report.connection.imports, provider_title=report.connection.provider_title, thread_link=thread_link
            )
            blocks += [{"type": "divider"}, *imports]
    elif report.providers:
        blocks.append(
            {
                "type": "actions",
                "block_id": "home_connect",
                "elements": [
                    connect_button(name, f"Connect {title}", style="primary") for name, title in report.providers[:5]
                ],
            }
        )
    blocks.append({"type": "divider"})
    blocks.append(context("Type `/accounts help` in any channel for everything I can do."))
    return {"type": "home", "blocks": blocks}
