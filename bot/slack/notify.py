"""Telling people things in Slack: ephemeral in the channel they are in, or a direct message when that fails."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

CANNOT_POST_HERE = {"not_in_channel", "channel_not_found", "user_not_in_channel", "is_archived", "restricted_action"}


def direct_message(client: WebClient, user_id: str, *, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
    """Post to the person's DM with the bot; returns the message ts."""
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    return str(client.chat_postMessage(channel=channel, text=text, blocks=blocks)["ts"])


def tell(
    client: WebClient, user_id: str, channel_id: str | None, *, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Only this person sees it: ephemeral where they were, a DM if the bot cannot post there."""
    if channel_id and not channel_id.startswith("D"):
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text, blocks=blocks)
            return
        except SlackApiError as exc:
            if exc.response.get("error") not in CANNOT_POST_HERE:
                raise
            log.info("Cannot post in %s (%s); sending a direct message", channel_id, exc.response.get("error"))
    direct_message(client, user_id, text=text, blocks=blocks)
