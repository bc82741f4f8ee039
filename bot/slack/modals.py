"""Changing a modal after its interaction was acknowledged, by `external_id`, so an answer that comes quickly waits
until Slack shows the view an acknowledgement put there, instead of landing first and being replaced by it. (A
change sent with the view's hash, to a modal the person may be changing too: `bot.slack.shown_views`.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

WAITS = (0.1, 0.2, 0.4, 0.8, 1.6)  # about three seconds for Slack to show an acknowledgement's view


def replace_when_shown(
    client: WebClient,
    *,
    external_id: str,
    view: dict[str, Any],
    waits: Sequence[float] = WAITS,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Replace the view Slack shows as `external_id` (one an acknowledgement put there); asked again a few times
    while Slack does not show it yet. False when it never does (the person closed the modal)."""
    for wait in (*waits, None):
        try:
            client.views_update(external_id=external_id, view=view)
            return True
        except SlackApiError as exc:
            if exc.response.get("error") != "not_found":
                raise
        if wait is None:
            break
        sleep(wait)
    log.info("The modal %s is not shown (closed, most likely); the answer goes by message", external_id)
    return False
