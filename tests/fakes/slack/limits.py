"""Slack's limits as the fake applies them: a rate tier per Web API method, and how long trigger ids,
response URLs and install codes live, how long a message may be and how deep modals stack."""

from __future__ import annotations

from dataclasses import dataclass

TRIGGER_LIFETIME = 3.0
RESPONSE_URL_LIFETIME = 30 * 60.0
RESPONSE_URL_USES = 5
OAUTH_CODE_LIFETIME = 10 * 60.0
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_STACK = 3


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `per_minute` calls a minute on average, `burst` at once; per workspace, or per
    channel as chat.postMessage is."""

    per_minute: float
    burst: int
    per_channel: bool = False


TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}


def tier(number: int) -> RateLimit:
    """Slack's rate tier `number` (1 to 4): its calls a minute, all of them allowed in one burst."""
    per_minute = TIER_PER_MINUTE[number]
    return RateLimit(per_minute=per_minute, burst=per_minute)


DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    # "About one message per second per channel, short bursts allowed": the fake allows bursts of 5.
    "chat.postMessage": RateLimit(per_minute=60, burst=5, per_channel=True),
    "chat.postEphemeral": tier(4),
    "chat.update": tier(3),
    "chat.delete": tier(3),
    "chat.getPermalink": tier(4),  # Slack calls it "special", generous enough for a link per message
    "conversations.history": tier(3),
    "conversations.info": tier(3),
    "conversations.join": tier(3),
    "conversations.list": tier(2),
    "conversations.members": tier(4),
    "conversations.open": tier(3),
    "conversations.replies": tier(3),
    "files.completeUploadExternal": tier(4),
    "files.getUploadURLExternal": tier(4),
    "oauth.v2.access": tier(4),
    "team.info": tier(3),
    "users.info": tier(4),
    "users.list": tier(2),
    "views.open": tier(4),
    "views.publish": tier(4),
    "views.push": tier(4),
    "views.update": tier(4),
}
