"""`/accounts status` and the App Home tab, built from a `StatusReport`."""

from __future__ import annotations

from typing import Any

from bot.status import StatusReport
from bot.views.text import button, context, escape, mention, section, slack_date

HEALTH = {
    "ok": ":large_green_circle: Healthy",
    "refresh_due": ":large_yellow_circle: Will refresh its log-in soon",
    "needs_reconnect": ":red_circle: Needs reconnecting: an admin should run `/accounts connect`",
}


def status_blocks(report: StatusReport) -> list[dict[str, Any]]:
    connection = report.connection
    if connection is None:
        names = ", ".join(f"`{name}`" for name, _ in report.providers) or "none configured"
        return [
            section(":electric_plug: *No accounting package is connected yet.*"),
            section(f"An admin can connect one with `/accounts connect <package>` (available: {names})."),
        ]
    lines = [
        f"*{escape(connection.provider_title)}*: *{escape(connection.organisation_name)}*",
        f"Connected by {mention(connection.connected_by)} on {slack_date(connection.connected_at)}",
        HEALTH.get(connection.health, escape(connection.health)),
    ]
    blocks = [section(":white_check_mark: *Accounting package connected*"), section("\n".join(lines))]
    if connection.health_detail:
        blocks.append(context(escape(connection.health_detail)))
    return blocks


def home_view(report: StatusReport) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Accounting connection"}},
        *status_blocks(report),
    ]
    if report.connection is not None:
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
    elif report.providers:
        blocks.append(
            {
                "type": "actions",
                "block_id": "home_connect",
                "elements": [
                    button(f"Connect {title}", f"connect_{name}", value=name, style="primary")
                    for name, title in report.providers[:5]
                ],
            }
        )
    blocks.append({"type": "divider"})
    blocks.append(context("Type `/accounts help` in any channel for everything I can do."))
    return {"type": "home", "blocks": blocks}
