"""The servers the ack bench loads, each run in a process of its own by `serve(kind, ...)`: a server that only
answers 200 (the floor), a bare Bolt AsyncApp and a bare sync Bolt App that only acknowledge `/accounts`, and the
bot itself (`BotServer`, SQLite, one workspace connected to an organisation, so `/accounts status` reads a real
connection). Every Slack call they make goes to the Slack fake, in another process."""

from __future__ import annotations

import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

TEAM, USER, CHANNEL, BOT_TOKEN, SECRET = "T0BENCH001", "U0BENCHADM", "C0BENCHGEN", "xoxb-bench-bot-token", "bench"
KINDS = ("floor", "bare-async", "bare-sync", "bot")


def _uvicorn(app: Any, port: int) -> uvicorn.Server:
    # The bot's own server settings (`bot.server.BotServer`), for every contender alike.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False, ws="none"
    )
    return uvicorn.Server(config)


def _bare_async(slack_api: str) -> Any:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack_api),
    )

    @app.command("/accounts")
    async def accounts(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def _bare_sync(slack_api: str) -> Any:
    from slack_bolt import Ack, App
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from slack_sdk import WebClient
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    app = App(
        signing_secret=SECRET,
        client=WebClient(token=BOT_TOKEN, base_url=slack_api),
        token_verification_enabled=False,
    )

    @app.command("/accounts")
    def accounts(ack: Ack) -> None:
        ack()

    async def events(request: Request) -> Response:
        bolt_request = to_bolt_request(request, await request.body())
        return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def _bot(slack_url: str, port: int, directory: Path) -> Any:
    from bot.server import BotServer
    from bot.settings import load_settings
    from storage import models
    from storage.crypto import SecretBox

    settings = load_settings(
        None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=f"{slack_url}/api/",
        database_url=f"sqlite:///{directory / 'bot.db'}",
        encryption_key=SecretBox.generate_key(),
        public_url="http://127.0.0.1:9",
        host="127.0.0.1",
        port=port,
        xero_client_id="BENCHXEROCLIENT00000000000000001",
        xero_client_secret="bench-xero-client-secret",
    )
    server = BotServer(settings)
    with server.runtime.db.session(write_lock=True) as s:
        workspace = models.Workspace(team_id=TEAM, name="Bench")
        s.add(workspace)
        s.flush()
        s.add(
            models.Connection(
                workspace_id=workspace.id,
                provider="xero",
                organisation_id="bench-tenant",
                organisation_name="Bench Plumbing Ltd",
                connected_by=USER,
                connected_at=datetime.now(UTC),
                refreshed_at=datetime.now(UTC),
            )
        )
    return server


def serve(kind: str, port: int, slack_url: str, ready: Any, source: str | None = None) -> None:
    """Child process: serve `kind` on `port` until terminated; `ready` hears once it answers. `source`: a checkout
    whose `bot`, `storage` and `providers` the bot is run from (another commit, measured in the same run)."""
    if source is not None:
        sys.path.insert(0, source)
    if kind == "bot":
        with tempfile.TemporaryDirectory(prefix="ack-bench-") as directory:
            # ended by the bench with SIGTERM, which the bot takes as `accounts-bot run` does (`BotServer.start`):
            # stopped, its import's reading process and that process's semaphores let go
            server = _bot(slack_url, port, Path(directory)).start()
            ready.send(True)
            try:
                server.wait()
            finally:
                server.stop()
        return
    if kind == "floor":
        from bench.ack_load import floor_app

        app: Any = floor_app
    elif kind == "bare-async":
        app = _bare_async(f"{slack_url}/api/")
    else:
        app = _bare_sync(f"{slack_url}/api/")
    http = _uvicorn(app, port)

    def announce() -> None:
        while not http.started:
            threading.Event().wait(0.01)
        ready.send(True)

    threading.Thread(target=announce, daemon=True).start()
    http.run()
