"""Events: App Home opened (its viewer remembered, so later changes reach them), and the app removed."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from bot import workspaces
from bot.runtime import Runtime
from bot.slack.home import home_opened
from bot.slack.requests import Asker

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def app_home_opened(event: dict[str, Any], context: BoltContext) -> None:
        if event.get("tab") != "home":
            return
        home_opened(Asker.of(runtime, context))

    def forget(team_id: str) -> None:
        with runtime.db.session() as s:
            workspaces.forget_slack_tokens(s, team_id=team_id)

    @app.event("app_uninstalled")
    def app_uninstalled(body: dict[str, Any]) -> None:
        forget(body["team_id"])

    @app.event("tokens_revoked")
    def tokens_revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        # Only the bot token matters to us; revoked user tokens leave the install working.
        if event.get("tokens", {}).get("bot"):
            forget(body["team_id"])
