"""`SlackFake`: the parts of the Slack fake put together, with the Web API's method table and the routes it
serves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Route, WebSocketRoute

from tests.fakes.server import ServerThread
from tests.fakes.slack.configuration import Configuration
from tests.fakes.slack.control.api import Control
from tests.fakes.slack.events import Events
from tests.fakes.slack.inspection import Inspection
from tests.fakes.slack.methods.chat import ChatMethods
from tests.fakes.slack.methods.conversations import ConversationMethods
from tests.fakes.slack.methods.files import FileMethods
from tests.fakes.slack.methods.identity import IdentityMethods
from tests.fakes.slack.methods.views import ViewMethods
from tests.fakes.slack.modals import Modals
from tests.fakes.slack.oauth import OAuthInstall
from tests.fakes.slack.records import _ApiRequest


class SlackFake(
    Control,
    Configuration,
    Inspection,
    OAuthInstall,
    IdentityMethods,
    ConversationMethods,
    ChatMethods,
    ViewMethods,
    FileMethods,
    Modals,
    Events,
):
    """Slack for one app, installed in any number of workspaces. Thread-safe."""

    def serve(self, port: int = 0) -> ServerThread:
        """A `ServerThread` for this fake (not started); the fake learns its URL from it."""
        server = ServerThread(self.asgi_app, port=port)
        self.url = server.url
        return server

    @property
    def api_url(self) -> str:
        """Where the Web API answers, as slack_sdk's `base_url` wants it (with the trailing slash)."""
        return f"{self._base_url()}/api/"

    def _web_api_methods(self) -> dict[str, Callable[[_ApiRequest], dict[str, Any]]]:
        return {
            "apps.connections.open": self._apps_connections_open,
            "auth.revoke": self._auth_revoke,
            "auth.test": self._auth_test,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "oauth.v2.access": self._oauth_v2_access,
            "team.info": self._team_info,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.push": self._views_push,
            "views.update": self._views_update,
        }

    def _routes(self) -> list[BaseRoute]:
        return [
            Route("/api/{method}", self._serve_web_api, methods=["GET", "POST"]),
            Route("/upload/v1/{upload_id}", self._serve_upload, methods=["POST"]),
            Route("/response/{response_id}", self._serve_response_url, methods=["POST"]),
            Route("/oauth/v2/authorize", self._serve_authorize, methods=["GET"]),
            Route("/app_redirect", self._serve_app_redirect, methods=["GET"]),
            WebSocketRoute("/socket", self._serve_socket),
            *self._control_routes(),
        ]
