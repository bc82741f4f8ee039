"""Xero's date formats: Microsoft JSON dates (`/Date(1503348544227+0000)/`), the zone-less timestamps of
/connections, and the `If-Modified-Since` header as Xero's SDKs send it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def ms_date(ts: float, *, zone: bool = True) -> str:
    """Xero's Microsoft JSON date: `/Date(1503348544227+0000)/` (milliseconds since the epoch)."""
    ms = round(ts * 1000)
    return f"/Date({ms}+0000)/" if zone else f"/Date({ms})/"


def _connection_date(ts: float) -> str:
    """/connections dates: `2019-12-07T18:46:19.5165400`, seven fraction digits and no zone."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


def _parse_if_modified_since(value: str | None) -> float | None:
    """ISO 8601 (what Xero's SDKs send; no zone means UTC) or an HTTP date; garbage is ignored."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
