"""A faithful local fake of Slack: the Web API a bot calls, and the requests Slack sends a bot.

`SlackFake` keeps workspaces, users, channels, messages, views and files in memory and serves them as
an ASGI app (`fake.asgi_app`, or `fake.serve()` for a `ServerThread`): the Web API under `/api/<method>`,
file upload URLs, response URLs, an OAuth authorize page and the Socket Mode WebSocket. It records every
Web API call, refuses what Slack refuses (errors, rate limits, Block Kit limits through
`tests.fakes.blockkit`), and delivers slash commands, interactions and events to the bot, either as signed
HTTP requests to its `request_url` or as envelopes over the Socket Mode connection the bot opened.

Expiry and rate limits follow the `clock` given to the fake, so a test moves time instead of sleeping;
`ts`, `event_time` and request signatures use the wall clock, as the bot checks them against its own.
`python -m tests.fakes.slack --port N` serves a demo workspace on its own.
"""

from __future__ import annotations

from tests.fakes.slack.clock import Clock, ManualClock
from tests.fakes.slack.delivery import sign
from tests.fakes.slack.demo import DEMO_APP_TOKEN, DEMO_BOT_TOKEN, DEMO_TEAM, demo
from tests.fakes.slack.fake import SlackFake
from tests.fakes.slack.limits import (
    DEFAULT_RATE_LIMITS,
    MAX_MESSAGE_TEXT,
    MAX_VIEW_STACK,
    OAUTH_CODE_LIFETIME,
    RESPONSE_URL_LIFETIME,
    RESPONSE_URL_USES,
    TIER_PER_MINUTE,
    TRIGGER_LIFETIME,
    RateLimit,
    tier,
)
from tests.fakes.slack.records import (
    DEFAULT_SCOPES,
    Call,
    Channel,
    Delivery,
    ResponsePost,
    SlackRefusal,
    Transport,
    UploadedFile,
    User,
    Workspace,
)

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_SCOPES",
    "DEMO_APP_TOKEN",
    "DEMO_BOT_TOKEN",
    "DEMO_TEAM",
    "MAX_MESSAGE_TEXT",
    "MAX_VIEW_STACK",
    "OAUTH_CODE_LIFETIME",
    "RESPONSE_URL_LIFETIME",
    "RESPONSE_URL_USES",
    "TIER_PER_MINUTE",
    "TRIGGER_LIFETIME",
    "Call",
    "Channel",
    "Clock",
    "Delivery",
    "ManualClock",
    "RateLimit",
    "ResponsePost",
    "SlackFake",
    "SlackRefusal",
    "Transport",
    "UploadedFile",
    "User",
    "Workspace",
    "demo",
    "sign",
    "tier",
]
