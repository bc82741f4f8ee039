"""Events: App Home opened, and the app removed from a workspace."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot import status, workspaces
from bot.runtime import Runtime
from bot.views.status import home_view

log = logging.getLogger(__name__)


def publish_home(runtime: Runtime, client: WebClient, *, team_id: str, user_id: str) -> None:
    with runtime.db.session() as s:
        workspaces.ensure(s, team_id=team_id)
        report = status.workspace_status(
            s,
            team_id=team_id,
            providers=runtime.provider_choices(),
            now=runtime.clock(),
            categories=runtime.settings.categories,
        )
    client.views_publish(user_id=user_id, view=home_view(report))


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def app_home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        publish_home(runtime, client, team_id=body["team_id"], user_id=event["user"])

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
