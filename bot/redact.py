"""A logging filter that masks tokens and secrets wherever they appear, slack_sdk's debug output included.

Masked: Slack and package tokens, configured secrets, OAuth `state`s and `code`s (a pending log-in can be finished
with them), and Slack's `response_url`s (anyone holding one can answer as the bot for half an hour): those of
hooks.slack.com by their shape, any other (`remember_urls`, as requests arrive) by their value.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable

# Slack tokens, Fernet ciphertexts, JWT-shaped bearer tokens, and key=value secrets in query strings or bodies.
PATTERNS = (
    re.compile(r"\bxox[abposre]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|code_verifier|token|code|state|response_url)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]{6,}"
    ),
    re.compile(r"https://hooks\.slack\.com/[^\s\"'<>|]+"),
)
MASK = "[redacted]"
URL = re.compile(r"https?://[^\s\"'<>|,}]+")
REMEMBER_FOR = 60 * 60  # longer than a response_url lives (30 minutes)
MAX_REMEMBERED = 10_000

_remembered: dict[str, float] = {}  # URL -> when to forget it
_lock = threading.Lock()


def remember_urls(*urls: str | None) -> None:
    """Mask these URLs too from now on, for an hour: response_urls arrive with requests, in no shape we know."""
    now = time.monotonic()
    with _lock:
        for url in urls:
            if url:
                _remembered[url] = now + REMEMBER_FOR
        if len(_remembered) > MAX_REMEMBERED:
            for url in [u for u, until in _remembered.items() if until < now]:
                del _remembered[url]
            while len(_remembered) > MAX_REMEMBERED:
                del _remembered[next(iter(_remembered))]


def _remembered_url(match: re.Match[str]) -> str:
    return MASK if match.group(0) in _remembered else match.group(0)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, MASK)
    if _remembered and "://" in text:
        text = URL.sub(_remembered_url, text)
    for pattern in PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


def install_redaction(secrets: Iterable[str] = ()) -> None:
    """Mask every log record as it is made, so no handler (ours, a library's, pytest's) sees a secret."""
    known = tuple(s for s in secrets if s)
    previous = logging.getLogRecordFactory()
    base = getattr(previous, "__wrapped_factory__", previous)

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)  # type: ignore[arg-type]
        record.msg, record.args = redact(record.getMessage(), known), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), known)
            record.exc_info = None
        return record

    factory.__wrapped_factory__ = base  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Root logging to stderr with redaction of every record."""
    install_redaction(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # APScheduler says "Running job" and "executed successfully" at INFO for every tick (every few seconds);
    # they are kept for DEBUG, where someone asked for everything.
    chatty = logging.getLogger("apscheduler.executors")
    chatty.setLevel(logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING)
