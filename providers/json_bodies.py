"""The JSON of the packages' bodies, read and written: no HTTP here, so a process that only reads pages (the import's
reading process, `bot.imports.reading`) does not import the HTTP client (httpx2 and tenacity: 60 ms of its start)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson


def read_json(body: bytes) -> Any:
    """A JSON body, read with orjson (a page of 1,000 contacts in a few milliseconds); what orjson refuses but
    JSON allows (escaped lone surrogates, integers beyond 64 bits) is read by the standard library instead, so the
    record checks further in see exactly what the package sent. Raises ValueError for what is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


_DECIMAL_MARK = "\u0000decimal:"
_DECIMAL_STRING = re.compile(r'"\\u0000decimal:(-?[0-9]+(?:\.[0-9]+)?)"')


def json_bytes(value: Any) -> bytes:
    """`value` as JSON, each Decimal written as the exact number it holds (`12.345`, never through a float)."""

    def marked(item: Any) -> Any:
        if isinstance(item, Decimal):
            if not item.is_finite():
                raise ValueError(f"{item} is not an amount")
            return _DECIMAL_MARK + format(item, "f")
        if isinstance(item, Mapping):
            return {key: marked(v) for key, v in item.items()}
        if isinstance(item, list | tuple):
            return [marked(v) for v in item]
        return item

    text = json.dumps(marked(value), separators=(",", ":"), allow_nan=False)
    return _DECIMAL_STRING.sub(r"\1", text).encode()
