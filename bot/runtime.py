"""What the listeners, web routes and jobs share: settings, database, providers and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk import WebClient

from bot.settings import Settings
from storage.crypto import SecretBox
from storage.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    providers: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        assert settings.encryption_key, "settings validation requires ENCRYPTION_KEY"
        db = Database(settings.database_url, SecretBox(settings.encryption_key))
        return cls(settings=settings, db=db)

    def provider_choices(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, getattr(p, "title", name)) for name, p in self.providers.items())

    def web_client(self, token: str | None = None) -> WebClient:
        return WebClient(token=token, base_url=self.settings.slack_api_url)

    def close(self) -> None:
        self.db.dispose()
