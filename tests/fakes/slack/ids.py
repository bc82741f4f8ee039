"""The identifiers and timestamps the Slack fake makes up: ids such as `U0AB12CD34`, `ts`-style wall-clock
timestamps and view hashes."""

from __future__ import annotations

import secrets
import string
import time

_ID_ALPHABET = string.ascii_uppercase + string.digits


def _random_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _wall_ts() -> str:
    return f"{time.time():.6f}"


def _view_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"
