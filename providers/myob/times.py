"""MYOB's times, which carry no zone ("2014-03-19T05:04:32.993"): how we read them and how we write the
`$filter=LastModified gt datetime'...'` of an incremental read.

A MYOB time is read as wall-clock time in the zone `MYOB_TIME_ZONE` names (UTC by default). In a zone with daylight
saving, the hour repeated when clocks go back is ambiguous: such a time is read as its first occurrence, and an
incremental read starts `MYOB_SYNC_OVERLAP` (65 minutes by default) before the last sync, so a change made in the
repeated hour (or while MYOB's clock and ours differ a little) is read again rather than missed. Reading a customer
twice changes nothing: the import matches it by its UID.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_MYOB_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?")


def parse_myob_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """`2014-03-19T05:04:32.993` read in `zone`, as an aware UTC time; a time with a zone of its own (which MYOB
    is not known to send) keeps it. None for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _MYOB_TIME.fullmatch(text):
        whole, _, fraction = text.partition(".")
        text = f"{whole}.{(fraction + '000000')[:6]}" if fraction else whole  # .NET writes up to 7 digits
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone, fold=0)  # the first of a repeated hour's two readings
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def myob_time(moment: datetime, zone: ZoneInfo) -> str:
    """An aware time as MYOB writes its times: wall-clock in `zone`, milliseconds, no zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone(zone).replace(tzinfo=None)
    return local.isoformat(timespec="milliseconds")


def changed_since_filter(since: datetime, zone: ZoneInfo, *, overlap: timedelta) -> str:
    """The `$filter` of customers changed since `since`, starting `overlap` earlier (see the module's docstring)."""
    return f"LastModified gt datetime'{myob_time(since - overlap, zone)}'"
