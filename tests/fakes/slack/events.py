"""Events API deliveries: an event in Slack's `event_callback` wrapper, and the URL verification check Slack
makes when a request URL is saved."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Mapping
from typing import Any

from tests.fakes.slack.delivery import Deliveries
from tests.fakes.slack.ids import _random_id, _wall_ts
from tests.fakes.slack.records import Delivery, Transport


class Events(Deliveries):
    def send_event(
        self,
        event: Mapping[str, Any],
        *,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> Delivery:
        """An Events API event (`{"type": "app_home_opened", "user": ..., "tab": "home"}`, ...) in Slack's
        `event_callback` wrapper. `app_home_opened` carries the person's published home view, as in Slack."""
        with self._changed:
            workspace = self._workspace(team_id or self._team_of_user(str(event.get("user", ""))))
            event = dict(event)
            event.setdefault("event_ts", _wall_ts())
            home = self._homes.get((workspace.team_id, str(event.get("user"))))
            if event.get("type") == "app_home_opened" and event.get("tab") == "home" and home:
                event.setdefault("view", copy.deepcopy(self._views[home].view))
            payload = {
                "token": self.verification_token,
                "team_id": workspace.team_id,
                "context_team_id": workspace.team_id,
                "context_enterprise_id": None,
                "api_app_id": self.app_id,
                "event": event,
                "type": "event_callback",
                "event_id": _random_id("Ev"),
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": workspace.team_id,
                        "user_id": workspace.bot_user_id,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
                "event_context": secrets.token_urlsafe(24),
            }
        retry = (retry_attempt, retry_reason)
        return self._deliver(
            "events_api", payload, transport=transport, secret=secret, timestamp=timestamp, retry=retry
        )

    def send_url_verification(self, *, secret: str | None = None, timestamp: int | None = None) -> Delivery:
        """The check Slack makes when the Request URL is saved (HTTP only): the bot must echo `challenge`."""
        challenge = secrets.token_urlsafe(24)
        payload = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}

        def apply(ack: Any) -> list[str]:
            echoed = ack.get("challenge") if isinstance(ack, dict) else ack
            return [] if echoed == challenge else ["the challenge was not echoed"]

        return self._deliver("events_api", payload, transport="http", secret=secret, timestamp=timestamp, apply=apply)
