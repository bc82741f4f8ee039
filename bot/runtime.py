"""What the listeners, web routes and jobs share: settings, database, providers, and Slack clients."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk import WebClient

from bot.settings import Settings
from bot.slack_http import PooledWebClient, SlackConnections
from providers import registry
from providers.base import Provider
from storage.crypto import SecretBox
from storage.db import Database

log = logging.getLogger(__name__)


def build_providers(settings: Settings) -> dict[str, Provider]:
    """The packages this deployment can connect: those whose client credentials are set."""
    return registry.configured(settings.packages)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    providers: dict[str, Provider] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Who hears that a connection needs reconnecting (the Slack side registers itself: `bot.slack.attention`);
    # services below Slack call `needs_reconnect` without knowing who listens.
    needs_reconnect_listeners: list[Callable[[int, str], None]] = field(default_factory=list)
    # Who shows a workspace's state and must hear when it changed (App Home: `bot.slack.home`).
    workspace_change_listeners: list[Callable[..., None]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Every call to Slack (Web API, response URLs) goes through this one pool of kept-open connections.
    slack_http: SlackConnections = field(default_factory=SlackConnections)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        assert settings.encryption_key, "settings validation requires ENCRYPTION_KEY"
        db = Database(settings.database_url, SecretBox(settings.encryption_key))
        return cls(settings=settings, db=db, providers=build_providers(settings))

    def provider_title(self, name: str) -> str:
        """The package's title for people; the bare name for a package no longer set up here."""
        provider = self.providers.get(name)
        return provider.title if provider is not None else name

    def provider_choices(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, p.title) for name, p in self.providers.items())

    def needs_reconnect(self, connection_id: int, detail: str) -> None:
        for listener in self.needs_reconnect_listeners:
            listener(connection_id, detail)

    def workspace_changed(self, team_id: str, *, viewer: str | None = None) -> None:
        """What a workspace's status shows changed (a connection, the mapping, an import, a setting); `viewer` is
        someone looking at App Home right now."""
        for listener in self.workspace_change_listeners:
            listener(team_id, viewer=viewer)

    def web_client(self, token: str | None = None) -> WebClient:
        return PooledWebClient(http=self.slack_http, token=token, base_url=self.settings.slack_api_url)

    def client_for(self, team_id: str) -> WebClient | None:
        """A Slack client with the workspace's bot token, for work that runs outside a Slack request."""
        if not self.settings.multi_workspace:
            return self.web_client(self.settings.slack_bot_token)
        from bot.workspaces.installations import SqlInstallationStore

        bot = SqlInstallationStore(self.db).find_bot(enterprise_id=None, team_id=team_id)
        if bot is None:
            log.warning("No Slack installation for workspace %s", team_id)
            return None
        return self.web_client(bot.bot_token)

    def close(self) -> None:
        for close in self.closers:
            close()
        for provider in self.providers.values():
            provider.close()
        self.slack_http.close()
        self.db.dispose()
