"""How JSON columns' values become text and back (the engine's `json_serializer` and `json_deserializer`,
`storage.db.make_engine`). Apart from `storage.db` so that what reads a column's text without a database (the
import's reading process: `bot.customers.csv_lines`) need not import SQLAlchemy."""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_text(value: Any) -> str:
    """A JSON column's text, written by orjson (what the standard library writes with `\\u` escapes, orjson writes
    as UTF-8; both read back the same); what orjson cannot write (keys that are not text) falls back."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # an escaped lone surrogate, an integer beyond 64 bits
        return json.loads(text)
