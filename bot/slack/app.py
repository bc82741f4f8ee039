"""Build the Bolt app for the configured mode: one workspace with a bot token, or many through Slack OAuth."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot import workspaces
from bot.runtime import Runtime
from bot.slack import attention, home, listeners, replays
from bot.slack.bolt_app import BotApp
from bot.slack.manifest import BOT_SCOPES
from bot.slack.middleware import Next, RequestMiddleware, VerifiedOnce
from bot.slack.requests import VERIFIED, WORKSPACE_ID
from bot.slack.respond import respond_through
from bot.slack.runner import answer_on_ack
from bot.views.pages import result_page
from bot.workspaces.installations import SqlInstallationStore, SqlOAuthStateStore

log = logging.getLogger(__name__)


def _install_succeeded(args: SuccessArgs) -> BoltResponse:
    installation = args.installation
    team = installation.team_name or "your workspace"
    return BoltResponse(
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=result_page(
            title="accounts-bot is installed",
            message=f"accounts-bot is now installed in {team}. In Slack, type /accounts help to get started.",
            ok=True,
            slack_url=f"slack://app?team={installation.team_id}&id={installation.app_id}&tab=home",
        ),
    )


def _install_failed(args: FailureArgs) -> BoltResponse:
    reason = args.reason or "unknown"
    if reason in ("access_denied",):
        message = "The installation was cancelled, so nothing changed. You can start again at any time."
    elif "state" in reason:
        message = "This installation link has expired or was already used. Please start the installation again."
    else:
        message = "Slack did not complete the installation. Please start it again; if it keeps failing, tell us."
    log.warning("Slack install failed: %s", reason)
    return BoltResponse(
        status=args.suggested_status_code,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=result_page(title="Installation not completed", message=message, ok=False),
    )


# What Bolt falls back to when it is not handed a value: it is handed every one, and these are hidden while it is
# built, so an empty SLACK_CLIENT_ID (docker-compose sets it so) cannot turn on Bolt's file installation store.
BOLT_ENVIRONMENT = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_VERIFICATION_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_SCOPES",
    "SLACK_USER_SCOPES",
    "SLACK_REDIRECT_URI",
    "SLACK_INSTALL_PATH",
    "SLACK_REDIRECT_URI_PATH",
)
_environment = threading.Lock()


@contextmanager
def bolt_reads_no_environment() -> Iterator[None]:
    with _environment:
        hidden = {name: os.environ.pop(name) for name in BOLT_ENVIRONMENT if name in os.environ}
        try:
            yield
        finally:
            os.environ.update(hidden)


def build_app(runtime: Runtime) -> App:
    settings = runtime.settings
    client = runtime.web_client(settings.slack_bot_token)
    secret = settings.slack_signing_secret or ""
    common: dict[str, Any] = {
        # Named, or Bolt names the app after its caller's file through `inspect.stack()`, which reads the source of
        # every frame on the stack (10 ms a start from a shallow caller, 30 ms under a test run's).
        "name": "accounts-bot",
        "signing_secret": secret,
        "client": client,
        # Bolt's own check, in the place Bolt puts it (before authorisation), skipped for requests already checked.
        "request_verification_enabled": False,
        "before_authorize": VerifiedOnce(secret, base_logger=logging.getLogger("bot.bolt")) if secret else None,
        "ignoring_self_events_enabled": True,
        "logger": logging.getLogger("bot.bolt"),
        "listener_executor": ThreadPoolExecutor(max_workers=5, thread_name_prefix="listener"),
    }
    with bolt_reads_no_environment():
        if settings.multi_workspace:
            app = BotApp(
                installation_store=SqlInstallationStore(runtime.db),
                # No user tokens are asked for (`user_scopes=[]`): the workspace's installation is looked up once
                # per request (`find_bot`), not again for each person who is not the installer.
                installation_store_bot_only=True,
                oauth_settings=OAuthSettings(
                    client_id=settings.slack_client_id,
                    client_secret=settings.slack_client_secret,
                    scopes=list(BOT_SCOPES),
                    user_scopes=[],
                    redirect_uri=f"{settings.public_url}/slack/oauth_redirect",
                    install_path="/slack/install",
                    redirect_uri_path="/slack/oauth_redirect",
                    authorization_url=settings.slack_authorize_url,
                    state_store=SqlOAuthStateStore(runtime.db),
                    callback_options=CallbackOptions(success=_install_succeeded, failure=_install_failed),
                ),
                **common,
            )
        else:
            app = BotApp(**common)  # the client carries the bot token
    answer_on_ack(app)
    # Listeners still running finish before the database they use is closed (`Runtime.close` runs closers first).
    runtime.closers.append(lambda: app.listener_runner.listener_executor.shutdown(wait=True, cancel_futures=True))

    @app.error
    def on_error(error: Exception, body: dict[str, Any], context: BoltContext, respond: Any = None) -> None:
        log.exception("Unhandled error in a Slack listener", exc_info=error)
        # Only a request we verified names a response_url we may post to.
        if respond is not None and context.get(VERIFIED) and body.get("response_url"):
            respond(
                response_type="ephemeral",
                replace_original=False,
                text=":warning: Something went wrong on our side and nothing was changed. "
                "Please try again; if it keeps happening, an admin can check `/accounts status`.",
            )

    # One-workspace mode: the team the bot token belongs to, asked once now (Bolt asked too), while it surely works.
    served_team = None if settings.multi_workspace else str(client.auth_test()["team_id"])
    if served_team is not None:
        with runtime.db.session(write_lock=True) as s:
            workspaces.token_works_again(s, team_id=served_team)

    def only_the_served_workspace(request: BoltRequest, next: Next) -> BoltResponse | None:
        """In one-workspace mode, a request for another team is refused before anything is written for it."""
        context = request.context
        if served_team is not None and context.team_id and context.team_id != served_team:
            log.warning("Refused a request for team %s: this bot serves one workspace", context.team_id)
            return BoltResponse(status=401, body="")
        return next()

    app.middleware(RequestMiddleware(only_the_served_workspace))
    app.middleware(respond_through(runtime.slack_http))
    app.middleware(replays.act_once(runtime, changes_nothing=listeners.commands.changes_nothing))

    workspace_ids: dict[str, int] = {}  # team id -> our workspace id; rows are never deleted

    def workspace_row_first(request: BoltRequest, next: Next) -> BoltResponse | None:
        """Create a workspace's row in a short transaction of its own before any listener runs, and put its id in
        the context (`Asker.of` reads it).

        Listeners then only read it; on SQLite, a transaction that reads and then inserts fails at once
        when another connection wrote in between, so the insert must not happen inside them.
        """
        context = request.context
        team_id = context.team_id
        if team_id:
            if team_id not in workspace_ids:
                with runtime.db.session(write_lock=True) as s:
                    workspace_ids[team_id] = workspaces.ensure(s, team_id=team_id).id
            context[WORKSPACE_ID] = workspace_ids[team_id]
        return next()

    app.middleware(RequestMiddleware(workspace_row_first))

    listeners.register(app, runtime)
    attention.listen(runtime)
    home.listen(runtime)
    app.lean_listeners()
    return app
