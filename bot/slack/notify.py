"""Telling people things in Slack: ephemeral in the channel they are in, or a direct message when that fails."""

from __future__ import annotations

import http.client
import logging
from typing import Any

import httpx2
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

log = logging.getLogger(__name__)

CANNOT_POST_HERE = {"not_in_channel", "channel_not_found", "user_not_in_channel", "is_archived", "restricted_action"}

# Slack's own words for "not now" (besides HTTP 5xx and 429): worth another try later.
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class SlackUnavailable(SlackRequestError):
    """Slack did not answer, or answered 5xx, after our retries."""


def transient(exc: BaseException) -> bool:
    """Whether a failed Slack call may well succeed later: no connection, a timeout, a 5xx, a rate limit."""
    if isinstance(exc, SlackApiError):
        status = int(getattr(exc.response, "status_code", 200) or 200)
        return status >= 500 or status == 429 or exc.response.get("error") in TRANSIENT_ERRORS
    return isinstance(exc, SlackUnavailable | OSError | http.client.HTTPException | httpx2.TransportError)


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


def permalink(client: WebClient, channel_id: str | None, ts: str | None) -> str | None:
    """The link to a run's progress message (and so its thread), as Slack gives it (`chat.getPermalink`); None
    before the message is posted, or when Slack won't say or can't be reached."""
    if not (channel_id and ts):
        return None
    try:
        link = client.chat_getPermalink(channel=channel_id, message_ts=ts).get("permalink")
    except SlackApiError as error:
        log.info("No link to an import's message: %s", error.response.get("error"))
        return None
    except (SlackRequestError, OSError) as error:  # Slack unreachable: the words say where, without the link
        log.info("No link to an import's message: %s", type(error).__name__)
        return None
    return link if isinstance(link, str) and link.startswith("https://") else None
