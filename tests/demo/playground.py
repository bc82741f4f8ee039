"""The playground: a web page standing in for Slack, served beside the Slack fake (on the same port, so the page
reaches the fake's control API as its own origin). The page is plain HTML and JavaScript in `static/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tests.fakes.slack.fake import SlackFake

STATIC = Path(__file__).parent / "static"
# Nothing but the page's own script and style runs, whatever a contact's name holds.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def playground_app(slack: SlackFake) -> Any:
    """The page at `/`, its script and style under `/playground/`, and everything else the Slack fake serves."""

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)

    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Mount("/playground", StaticFiles(directory=STATIC)),
            Mount("", app=slack.asgi_app),
        ]
    )
