"""The Slack app manifest: Socket Mode as `manifest.yml`, or HTTP mode with request URLs filled in."""

from __future__ import annotations

from typing import Any

import yaml

from providers import registry

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "users:read",
    "channels:read",
    "groups:read",
    "files:write",
)
BOT_EVENTS = ("app_home_opened", "app_uninstalled", "tokens_revoked")
COMMAND = "/accounts"


def build_manifest(public_url: str | None = None) -> dict[str, Any]:
    """The manifest for Socket Mode, or for HTTP mode at `public_url` (https://your.host)."""
    base = public_url.rstrip("/") if public_url else None
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": "Connect your accounting package, map account codes, import customers",
        "usage_hint": "[connect | map | import | status | disconnect | help]",
        "should_escape": True,  # Slack links `@someone` and `#channel` as `<@U…|name>` and `<#C…|name>`
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    oauth: dict[str, Any] = {"scopes": {"bot": list(BOT_SCOPES)}}
    if base:
        command["url"] = f"{base}/slack/events"
        interactivity["request_url"] = f"{base}/slack/events"
        interactivity["message_menu_options_url"] = f"{base}/slack/events"
        events["request_url"] = f"{base}/slack/events"
        oauth["redirect_urls"] = [f"{base}/slack/oauth_redirect"]
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "accounts-bot",
            "description": "Wire your accounting package into Slack",
            "long_description": (
                "accounts-bot connects a trades or field-service business's accounting package "
                f"({', '.join(registry.titles().values())}) to Slack. Admins connect the package, "
                "choose the account code for each category in a modal, and import every customer, "
                "with progress in a thread and a summary at the end; a schedule keeps customers in sync. "
                "Type /accounts help to start."
            ),
            "background_color": "#1d3b53",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "accounts-bot", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": oauth,
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": base is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(public_url: str | None = None) -> str:
    header = (
        "# Slack app manifest for accounts-bot in Socket Mode (no public URL needed).\n"
        "# For HTTP mode run: accounts-bot manifest --url https://your.host\n"
        if public_url is None
        else f"# Slack app manifest for accounts-bot in HTTP mode at {public_url}\n"
    )
    return header + yaml.safe_dump(build_manifest(public_url), sort_keys=False, allow_unicode=True, width=100)
