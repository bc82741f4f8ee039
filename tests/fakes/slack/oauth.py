"""Installing the app through the Slack fake: the authorize page (approved at once by the installer), the codes
it hands out, and oauth.v2.access exchanging a code for the workspace's bot token; and the app redirect that brings
a person back to Slack from a web page."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from tests.fakes.slack.limits import OAUTH_CODE_LIFETIME
from tests.fakes.slack.records import SlackRefusal, _ApiRequest, _OAuthCode
from tests.fakes.slack.web_api import WebApi


class OAuthInstall(WebApi):
    def issue_oauth_code(
        self,
        team_id: str,
        user_id: str,
        *,
        redirect_uri: str | None = None,
        scopes: tuple[str, ...] | None = None,
    ) -> str:
        """A code as Slack's authorize page gives the redirect URI once `user_id` approves the install."""
        with self._changed:
            workspace = self._workspace(team_id)
            code = f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
            self._codes[code] = _OAuthCode(team_id, user_id, self.clock(), redirect_uri, scopes or workspace.scopes)
            return code

    def set_installer(self, team_id: str, user_id: str) -> None:
        """Who approves installs on `/oauth/v2/authorize` (default: the first user of the first workspace)."""
        with self._changed:
            self._installer = (team_id, user_id)

    async def _serve_app_redirect(self, request: Request) -> Response:
        """Slack's app redirect (`/app_redirect?team=&channel=`), which opens the workspace in Slack: here, the page
        served at `/` (the demo's playground) on that channel."""
        channel = request.query_params.get("channel", "")
        with self._changed:
            known = channel in self._channels and self._channels[channel].team_id == request.query_params.get("team")
        return RedirectResponse("/?" + urlencode({"channel": channel}) if known else "/", status_code=302)

    async def _serve_authorize(self, request: Request) -> Response:
        """Slack's install page, approved at once by the installer (`set_installer`)."""
        params = request.query_params
        if params.get("client_id") != self.client_id:
            return PlainTextResponse("invalid client_id", status_code=400)
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return PlainTextResponse("redirect_uri is required by this fake", status_code=400)
        with self._changed:
            team_id, user_id = self._installer or self._default_installer()
            scopes = tuple(s for s in (params.get("scope") or "").split(",") if s) or None
            code = self.issue_oauth_code(team_id, user_id, redirect_uri=redirect_uri, scopes=scopes)
        query = urlencode({"code": code, "state": params.get("state", "")})
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)

    def _default_installer(self) -> tuple[str, str]:
        for (team_id, user_id), user in self._users.items():
            if not user.is_bot:
                return team_id, user_id
        raise LookupError("add a user (or call set_installer) before installing through /oauth/v2/authorize")

    def _oauth_v2_access(self, request: _ApiRequest) -> dict[str, Any]:
        client_id, client_secret = request.basic or (
            str(request.args.get("client_id", "")),
            str(request.args.get("client_secret", "")),
        )
        if client_id != self.client_id:
            raise SlackRefusal("invalid_client_id")
        if client_secret != self.client_secret:
            raise SlackRefusal("bad_client_secret")
        code = self._codes.pop(str(request.args.get("code", "")), None)
        if code is None or self.clock() - code.issued > OAUTH_CODE_LIFETIME:
            raise SlackRefusal("invalid_code")
        if code.redirect_uri is not None and request.args.get("redirect_uri") not in (None, code.redirect_uri):
            raise SlackRefusal("bad_redirect_uri")
        workspace = self._workspaces[code.team_id]
        if workspace.bot_token is None or workspace.bot_token in self._revoked:
            workspace.bot_token = f"xoxb-{workspace.team_id}-{secrets.token_hex(12)}"
            self._tokens[workspace.bot_token] = ("bot", workspace.team_id)
        workspace.scopes = code.scopes
        request.workspace = workspace
        self._take_from_bucket(request)
        return {
            "access_token": workspace.bot_token,
            "token_type": "bot",
            "scope": ",".join(code.scopes),
            "bot_user_id": workspace.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": workspace.team_id, "name": workspace.name},
            "enterprise": None,
            "authed_user": {"id": code.user_id},
            "is_enterprise_install": False,
        }
