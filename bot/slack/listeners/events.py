"""Events: App Home opened (its viewer remembered, so later changes reach them), and the app removed."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from bot import workspaces
from bot.runtime import Runtime
from bot.slack.envelope import SLACK_ID
from bot.slack.home import home_opened
from bot.slack.requests import Asker

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def app_home_opened(event: dict[str, Any], context: BoltContext) -> None:
        if event.get("tab") != "home":
            return
        home_opened(Asker.of(runtime, context))

    def forget(body: dict[str, Any]) -> None:
        teams, organisation = removed_from(body)
        with runtime.db.session(write_lock=True) as s:
            for team_id in teams:
                workspaces.forget_slack_tokens(s, team_id=team_id)
            if not teams and organisation:
                workspaces.forget_organisation_tokens(s, enterprise_id=organisation)

    @app.event("app_uninstalled")
    def app_uninstalled(body: dict[str, Any]) -> None:
        forget(body)

    @app.event("tokens_revoked")
    def tokens_revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        # Only the bot token matters to us; revoked user tokens leave the install working.
        if (event.get("tokens") or {}).get("bot"):
            forget(body)


def removed_from(body: dict[str, Any]) -> tuple[list[str], str | None]:
    """The workspaces an uninstall or revocation is for, and their Enterprise Grid organisation. An install on a
    Grid names its workspace in `authorizations` (or `context_team_id`), not in `team_id`; an organisation-wide
    one names only the organisation."""
    found = [body.get("team_id"), body.get("context_team_id")]
    found += [a.get("team_id") for a in body.get("authorizations") or [] if isinstance(a, dict)]
    teams = list(dict.fromkeys(t for t in found if isinstance(t, str) and SLACK_ID.fullmatch(t)))
    organisation = body.get("enterprise_id") or body.get("context_enterprise_id")
    return teams, organisation if isinstance(organisation, str) and SLACK_ID.fullmatch(organisation) else None
