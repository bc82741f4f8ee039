"""Slack's installation and OAuth state stores, kept in our own tables with bot tokens encrypted at rest."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from sqlalchemy import select

from bot import workspaces
from storage.crypto import fingerprint
from storage.db import Database
from storage.models import OAuthState, SlackInstallation

log = logging.getLogger(__name__)

INSTALL_STATE_TTL = timedelta(minutes=10)


class SqlInstallationStore(InstallationStore):
    """One installation per workspace (the latest); user tokens are never asked for, so never kept."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def logger(self) -> logging.Logger:
        return log

    def save(self, installation: Installation) -> None:
        box = self.db.box
        with self.db.session(write_lock=True) as s:
            workspace = workspaces.ensure(s, team_id=installation.team_id or "", name=installation.team_name)
            workspace.enterprise_id = installation.enterprise_id
            if workspace.uninstalled_at is not None:  # installed again: its syncs carry on
                workspace.uninstalled_at = None
                workspaces.resume_workspace_syncs(s, workspace=workspace)
            row = workspace.installation
            if row is None:
                row = SlackInstallation(workspace_id=workspace.id, team_id=workspace.team_id)
                s.add(row)
            row.app_id = installation.app_id
            row.enterprise_id = installation.enterprise_id
            row.is_enterprise_install = bool(installation.is_enterprise_install)
            row.bot_id = installation.bot_id
            row.bot_user_id = installation.bot_user_id
            row.bot_scopes = ",".join(installation.bot_scopes or [])
            row.bot_token_enc = box.encrypt(installation.bot_token) if installation.bot_token else None
            row.bot_refresh_token_enc = (
                box.encrypt(installation.bot_refresh_token) if installation.bot_refresh_token else None
            )
            expires = installation.bot_token_expires_at
            row.bot_token_expires_at = datetime.fromtimestamp(expires, UTC) if expires else None
            row.installer_user_id = installation.user_id
            row.installed_at = datetime.now(UTC)
            workspaces.record(
                s,
                workspace_id=workspace.id,
                actor=installation.user_id,
                action="slack.installed",
                detail={"app_id": row.app_id},
            )

    def save_bot(self, bot: Bot) -> None:
        # `save` already stored the bot part of the installation.
        return None

    def _find(self, team_id: str | None) -> tuple[SlackInstallation, str | None] | None:
        if not team_id:
            return None
        with self.db.session() as s:
            row = s.scalar(select(SlackInstallation).where(SlackInstallation.team_id == team_id))
            if row is None or row.bot_token_enc is None:
                return None
            name = row.workspace.name
            s.expunge(row)
            return row, name

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = self._find(team_id)
        if found is None:
            return None
        row, team_name = found
        box = self.db.box
        return Installation(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id,
            team_id=row.team_id,
            team_name=team_name,
            bot_token=box.decrypt(row.bot_token_enc) if row.bot_token_enc else None,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes or "",
            bot_refresh_token=box.decrypt(row.bot_refresh_token_enc) if row.bot_refresh_token_enc else None,
            bot_token_expires_at=int(row.bot_token_expires_at.timestamp()) if row.bot_token_expires_at else None,
            user_id=row.installer_user_id or "",
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.installed_at.timestamp(),
        )

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = self.find_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return installation.to_bot() if installation else None

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        with self.db.session(write_lock=True) as s:
            workspaces.forget_slack_tokens(s, team_id=team_id or "")

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_bot(enterprise_id=enterprise_id, team_id=team_id)


class SqlOAuthStateStore(OAuthStateStore):
    """Single-use install states, stored only as their SHA-256, expiring after ten minutes."""

    def __init__(self, db: Database, ttl: timedelta = INSTALL_STATE_TTL) -> None:
        self.db = db
        self.ttl = ttl

    @property
    def logger(self) -> logging.Logger:
        return log

    def issue(self, *args: object, **kwargs: object) -> str:
        state = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.db.session() as s:
            s.add(
                OAuthState(
                    state_digest=fingerprint(state),
                    purpose="slack_install",
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        return state

    def consume(self, state: str) -> bool:
        now = datetime.now(UTC)
        with self.db.session(write_lock=True) as s:  # read, then mark used: SQLite's write lock from the start
            row = s.scalar(
                select(OAuthState)
                .where(OAuthState.state_digest == fingerprint(state), OAuthState.purpose == "slack_install")
                .with_for_update()
            )
            if row is None or row.used_at is not None or row.expires_at < now:
                return False
            row.used_at = now
            return True
