"""The web side: Slack events (HTTP mode), Slack install, provider OAuth callbacks and a health check."""

from __future__ import annotations

import logging
import time

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.runtime import Runtime
from bot.views.pages import result_page
from bot.web import oauth_callback, slack_requests
from bot.web.dispatch import Dispatcher

log = logging.getLogger(__name__)


def acknowledged(response: BoltResponse) -> BoltResponse:
    """A verified request no listener takes (an event we do not act on) is acknowledged, so Slack does not retry
    it; Bolt answers those 404."""
    return BoltResponse(status=200, body="") if response.status == 404 else response


def build_web(runtime: Runtime, app: App) -> Starlette:
    settings = runtime.settings
    dispatcher = Dispatcher(app)
    # Listeners still running finish before the database they use is closed (`Runtime.close` runs closers first).
    runtime.closers.insert(0, dispatcher.close)

    async def slack_events(request: Request) -> Response:
        if settings.socket_mode:
            return JSONResponse({"error": "this bot runs in Socket Mode"}, status_code=404)
        try:
            raw = await slack_requests.read_body(request)
            slack_requests.verify(request.headers, raw, secret=settings.slack_signing_secret or "", now=time.time())
            text, body = slack_requests.parse(
                raw,
                content_type=request.headers.get("content-type", ""),
                content_encoding=request.headers.get("content-encoding", ""),
            )
        except slack_requests.Refused as refused:
            log.info("Refused a request to /slack/events (%s): %s", refused.status, refused.reason)
            return Response(status_code=refused.status)
        bolt_request = slack_requests.bolt_request(text, body, request.headers)
        return to_starlette_response(acknowledged(await dispatcher.acknowledgement(bolt_request)))

    async def slack_install(request: Request) -> Response:
        flow = app.oauth_flow
        if flow is None:
            return HTMLResponse(
                result_page(
                    title="Install from your Slack app settings",
                    message="This bot serves one workspace; multi-workspace install is not set up here.",
                    ok=False,
                ),
                status_code=404,
            )
        bolt_request = to_bolt_request(request, await request.body())
        handler = flow.handle_installation if request.url.path == flow.install_path else flow.handle_callback
        return to_starlette_response(await run_in_threadpool(handler, bolt_request))

    def provider_callback(request: Request) -> Response:
        status, page = oauth_callback.handle(runtime, request.path_params["provider"], dict(request.query_params))
        return HTMLResponse(
            page, status_code=status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        )

    def health(request: Request) -> Response:
        try:
            with runtime.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            log.exception("Health check: the database does not answer")
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "mode": "socket" if settings.socket_mode else "http"})

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/slack/install", slack_install, methods=["GET"]),
        Route("/slack/oauth_redirect", slack_install, methods=["GET"]),
        Route("/oauth/{provider}/callback", provider_callback, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    web = Starlette(routes=routes)
    web.state.dispatcher = dispatcher  # where HTTP requests' listeners run
    return web
