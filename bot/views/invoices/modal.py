"""What the invoice views share: their callback and action ids, the invoice states in words, the modal frame and
its inputs, and the private metadata the modals carry (read back defensively)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bot.invoices.previews import MAX_LINES
from bot.views.text import SLACK_ID, truncate

View = dict[str, Any]
Blocks = list[dict[str, Any]]

FORM_CALLBACK = "invoice_form"
PREVIEW_CALLBACK = "invoice_preview"
RESULT_CALLBACK = "invoice_result"
PAYMENT_CALLBACK = "invoice_payment"
CUSTOMER_ACTION = "invoice_customer"
ADD_LINE_ACTION = "invoice_add_line"
PAY_ACTION = "invoice_record_payment"
FIX_ACTION = "invoice_change"
DUE_BLOCK = "due_date"  # and `due_date_<n>` once we changed the date shown
MAX_DUE_VERSION = 10_000
DUE_BLOCK_ID = re.compile(r"due_date(_[0-9]{1,5})?")
ROW_ID_MAX = 2**31 - 1
STATE_WORDS = {
    "preview": "not sent",
    "pending": "being created",
    "failed": "refused",
    "draft": "draft",
    "submitted": "awaiting approval",
    "approved": "approved",
    "paid": "paid",
    "voided": "voided",
    "deleted": "deleted",
}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def modal(
    callback_id: str,
    title: str,
    blocks: Blocks,
    *,
    metadata: str,
    submit: str | None,
    close: str,
    external_id: str | None = None,
) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "close": plain(close, 24),
        "blocks": blocks,
        "private_metadata": metadata,
    }
    if submit:
        view["submit"] = plain(submit, 24)
    if external_id:
        view["external_id"] = external_id
    return view


@dataclass(frozen=True)
class FormMetadata:
    """What the invoice form carries: its connection and channel, how many lines it shows, and its due date as we
    last set it (`due`), with the version of the due date's block (`due_version`: a new block id is how a changed
    date is shown, since Slack keeps what an input holds while its block id stays) and whether the person picked
    the due date themselves (`due_picked`: then it is theirs, and neither terms nor a customer change it)."""

    connection_id: int
    channel_id: str | None
    lines: int = 1
    due: date | None = None
    due_version: int = 0
    due_picked: bool = False

    @property
    def due_block(self) -> str:
        return DUE_BLOCK if self.due_version == 0 else f"{DUE_BLOCK}_{self.due_version}"

    def dumps(self) -> str:
        data: dict[str, Any] = {"c": self.connection_id, "ch": self.channel_id, "n": self.lines}
        if self.due is not None:
            data["d"] = self.due.isoformat()
        if self.due_version:
            data["v"] = self.due_version
        if self.due_picked:
            data["p"] = 1
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: object) -> FormMetadata | None:
        data = _json(text)
        if data is None:
            return None
        connection_id, channel_id, lines = data.get("c"), data.get("ch"), data.get("n", 1)
        if (
            type(connection_id) is not int
            or not _row_id(connection_id)
            or type(lines) is not int
            or not 1 <= lines <= MAX_LINES
        ):
            return None
        if channel_id is not None and not (isinstance(channel_id, str) and SLACK_ID.fullmatch(channel_id)):
            return None
        due, version, picked = data.get("d"), data.get("v", 0), data.get("p", 0)
        try:
            due_on = date.fromisoformat(due) if isinstance(due, str) and len(due) == 10 else None
        except ValueError:
            due_on = None
        if type(version) is not int or not 0 <= version <= MAX_DUE_VERSION or picked not in (0, 1):
            return None
        return cls(connection_id, channel_id or None, lines, due_on, version, bool(picked))


def is_due_block(block_id: object) -> bool:
    """The due date's block, in any of its versions (`FormMetadata.due_block`)."""
    return isinstance(block_id, str) and DUE_BLOCK_ID.fullmatch(block_id) is not None


def invoice_metadata(invoice_id: int) -> str:
    return json.dumps({"i": invoice_id})


def read_invoice_metadata(text: object) -> int | None:
    data = _json(text)
    invoice_id = data.get("i") if data else None
    return invoice_id if _row_id(invoice_id) else None  # type: ignore[return-value]


def _json(text: object) -> dict[str, Any] | None:
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _row_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= ROW_ID_MAX


def input_block(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str = "",
    dispatch: bool = False,
) -> dict:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain(label, 2000),
        "element": element | {"action_id": block_id},
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    if dispatch:  # a choice here is sent to us at once (`block_actions`), not only with the submission
        block["dispatch_action"] = True
    return block


def text_input(
    *, initial: str | None = None, placeholder: str = "", max_length: int = 3000, multiline: bool = False
) -> dict:
    element: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def plain_number(text: str) -> str:
    value = Decimal(text)
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
