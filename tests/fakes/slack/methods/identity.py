"""Who a token, a workspace and its people are: auth.test, auth.revoke, team.info and users.info."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.slack.methods.conversations import cursor_page
from tests.fakes.slack.records import SlackRefusal, User, _ApiRequest
from tests.fakes.slack.web_api import WebApi, _flag


class IdentityMethods(WebApi):
    def _auth_test(self, request: _ApiRequest) -> dict[str, Any]:
        workspace = request.ws
        return {
            "url": f"https://{workspace.domain}.slack.com/",
            "team": workspace.name,
            "user": self.app_name,
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }

    def _auth_revoke(self, request: _ApiRequest) -> dict[str, Any]:
        if not _flag(request.args.get("test")):
            self._revoked.add(str(request.token))
        return {"revoked": True}

    def _team_info(self, request: _ApiRequest) -> dict[str, Any]:
        workspace = request.ws
        return {"team": {"id": workspace.team_id, "name": workspace.name, "domain": workspace.domain}}

    def _users_info(self, request: _ApiRequest) -> dict[str, Any]:
        user = self._users.get((request.ws.team_id, str(request.args.get("user", ""))))
        if user is None:
            raise SlackRefusal("user_not_found")
        return {"user": _user_object(user)}

    def _users_list(self, request: _ApiRequest) -> dict[str, Any]:
        """Everyone in the workspace, bots and deactivated people included (as Slack lists them); without a
        `limit`, all in one page."""
        people = [user for (team_id, _), user in self._users.items() if team_id == request.ws.team_id]
        page, cursor = cursor_page(request, people, default_limit=0)
        return {
            "members": [_user_object(user) for user in page],
            "cache_ts": int(self.clock()),
            "response_metadata": {"next_cursor": cursor},
        }


def _user_object(user: User) -> dict[str, Any]:
    zone = ZoneInfo(user.tz)
    offset = datetime.now(zone).utcoffset()
    return {
        "id": user.user_id,
        "team_id": user.team_id,
        "name": user.name,
        "real_name": user.real_name,
        "deleted": user.deleted,
        "tz": user.tz,
        "tz_label": datetime.now(zone).tzname(),
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "is_admin": user.is_admin,
        "is_owner": user.is_owner,
        "is_primary_owner": user.is_primary_owner,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1700000000,
        "profile": {
            "real_name": user.real_name,
            "display_name": user.name,
            "email": user.email,
            "team": user.team_id,
        },
    }
