"""Block Kit as Slack's servers read it, for the Slack fake and for tests of view builders.

`check_message`, `check_view` and `check_options` refuse what Slack refuses, each problem worded the
way Slack words it in `response_metadata.messages` ("[ERROR] must be less than 76 characters
[json-pointer:/blocks/0/accessory/text/text]"). `assign_ids`, `find_element`, `action_fields`,
`state_values` and `unfilled_inputs` read the interactive elements a person uses, so the fake can build
the payloads Slack sends when that person clicks, picks or submits.

Limits are Slack's documented ones; where only slack_sdk's models enforce a limit, that is the one used.
The checker covers the blocks and elements a bot commonly sends; it is not a full JSON schema.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100

_PLAIN = ("plain_text",)
_ANY_TEXT = ("plain_text", "mrkdwn")

_SELECTS_WITH_OPTIONS = {"static_select", "multi_static_select"}
_SELECTS = _SELECTS_WITH_OPTIONS | {
    "external_select",
    "multi_external_select",
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
}
_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input", "rich_text_input"}
_PICKERS = {"datepicker", "timepicker", "datetimepicker"}
_CHOICES = {"checkboxes", "radio_buttons"}
INTERACTIVE_ELEMENTS = (
    _SELECTS | _TEXT_INPUTS | _PICKERS | _CHOICES | {"button", "overflow", "workflow_button", "file_input"}
)
_SECTION_ACCESSORIES = (_SELECTS | _PICKERS | _CHOICES | {"button", "overflow", "image", "workflow_button"}) - {
    "datetimepicker"
}
_ACTIONS_ELEMENTS = _SELECTS | _PICKERS | _CHOICES | {"button", "overflow", "workflow_button", "rich_text_input"}
_INPUT_ELEMENTS = _SELECTS | _TEXT_INPUTS | _PICKERS | _CHOICES | {"file_input"}
# Elements whose choice lives in a view's or message's `state.values` (buttons and menus of links do not).
_STATEFUL_ELEMENTS = _SELECTS | _TEXT_INPUTS | _PICKERS | _CHOICES | {"file_input"}

_BLOCK_TYPES = {
    "section",
    "divider",
    "header",
    "context",
    "actions",
    "input",
    "image",
    "markdown",
    "rich_text",
    "file",
    "video",
    "context_actions",
    "table",
}


class _Problems:
    """Collects Slack-worded problems; each check method says nothing when the value is fine."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, pointer: str, text: str) -> None:
        self.messages.append(f"[ERROR] {text} [json-pointer:{pointer}]")

    def max_chars(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(pointer, f"must be less than {limit + 1} characters")

    def max_items(self, items: Any, limit: int, pointer: str) -> None:
        if isinstance(items, list) and len(items) > limit:
            self.add(pointer, f"no more than {limit} items allowed")

    def required(self, obj: Mapping[str, Any], field: str, pointer: str) -> bool:
        if obj.get(field) in (None, "", []):
            self.add(pointer, f"missing required field: {field}")
            return False
        return True

    def is_object(self, value: Any, pointer: str) -> bool:
        if not isinstance(value, dict):
            self.add(pointer, "must provide an object")
            return False
        return True

    def is_array(self, value: Any, pointer: str) -> bool:
        if not isinstance(value, list):
            self.add(pointer, "must provide an array")
            return False
        return True

    def text(self, obj: Any, pointer: str, *, limit: int, types: Sequence[str] = _ANY_TEXT) -> None:
        """A text object: `{"type": "plain_text" | "mrkdwn", "text": ...}` of 1 to `limit` characters."""
        if not self.is_object(obj, pointer):
            return
        if obj.get("type") not in types:
            self.add(pointer, "failed to match all allowed schemas")
            self.add(f"{pointer}/type", "must be a valid enum value")
        text = obj.get("text")
        if not isinstance(text, str):
            self.add(pointer, "missing required field: text")
        elif not text:
            self.add(f"{pointer}/text", "must be more than 0 characters")
        else:
            self.max_chars(text, limit, f"{pointer}/text")


def check_message(blocks: Any, *, pointer: str = "/blocks") -> list[str]:
    """Problems Slack finds in a message's `blocks` (chat.postMessage, chat.update, response URLs)."""
    problems = _Problems()
    _check_blocks(problems, blocks, pointer, limit=MESSAGE_BLOCKS, surface="message")
    return problems.messages


def check_view(view: Any, *, pointer: str = "") -> list[str]:
    """Problems Slack finds in a modal or App Home view; views.* put these under `/view`."""
    problems = _Problems()
    if not problems.is_object(view, pointer or "/"):
        return problems.messages
    kind = view.get("type")
    if kind not in ("modal", "home"):
        problems.add(f"{pointer}/type", "must be a valid enum value")
        return problems.messages
    if kind == "modal":
        if problems.required(view, "title", pointer):
            problems.text(view["title"], f"{pointer}/title", limit=24, types=_PLAIN)
        for field in ("submit", "close"):
            if view.get(field) is not None:
                problems.text(view[field], f"{pointer}/{field}", limit=24, types=_PLAIN)
    elif view.get("title") is not None:
        problems.text(view["title"], f"{pointer}/title", limit=24, types=_PLAIN)
    problems.max_chars(view.get("private_metadata"), 3000, f"{pointer}/private_metadata")
    problems.max_chars(view.get("callback_id"), 255, f"{pointer}/callback_id")
    problems.max_chars(view.get("external_id"), 255, f"{pointer}/external_id")
    if problems.required(view, "blocks", pointer):
        blocks = view["blocks"]
        _check_blocks(problems, blocks, f"{pointer}/blocks", limit=VIEW_BLOCKS, surface=kind)
        has_inputs = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if kind == "modal" and has_inputs and view.get("submit") is None:
            problems.add(pointer or "/", "must provide submit when the view contains input blocks")
    return problems.messages


def check_options(response: Any) -> list[str]:
    """Problems Slack finds in an app's answer to a `block_suggestion` (an external select's options)."""
    problems = _Problems()
    if not problems.is_object(response, "/"):
        return problems.messages
    if "option_groups" in response:
        _check_option_groups(problems, response["option_groups"], "/option_groups", _PLAIN)
    elif problems.required(response, "options", "/"):
        _check_options(problems, response["options"], "/options", limit=100, text_types=_PLAIN)
    return problems.messages


def _check_blocks(problems: _Problems, blocks: Any, pointer: str, *, limit: int, surface: str) -> None:
    if not problems.is_array(blocks, pointer):
        return
    problems.max_items(blocks, limit, pointer)
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not problems.is_object(block, where):
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            problems.max_chars(block_id, 255, f"{where}/block_id")
            if block_id in seen:
                problems.add(f"{where}/block_id", f"duplicate block_id: {block_id}")
            seen.add(block_id)
        kind = block.get("type")
        check = _BLOCK_CHECKS.get(kind) if isinstance(kind, str) else None
        if check is None:
            if kind not in _BLOCK_TYPES:
                problems.add(where, "failed to match all allowed schemas")
                problems.add(f"{where}/type", f"unsupported type: {kind}")
            continue
        check(problems, block, where)


def _section(problems: _Problems, block: dict[str, Any], where: str) -> None:
    if block.get("text") is None and block.get("fields") is None:
        problems.add(where, "missing required field: text")
    if block.get("text") is not None:
        problems.text(block["text"], f"{where}/text", limit=3000)
    if block.get("fields") is not None and problems.is_array(block["fields"], f"{where}/fields"):
        problems.max_items(block["fields"], 10, f"{where}/fields")
        for i, field in enumerate(block["fields"]):
            problems.text(field, f"{where}/fields/{i}", limit=2000)
    if block.get("accessory") is not None:
        _element(problems, block["accessory"], f"{where}/accessory", allowed=_SECTION_ACCESSORIES)


def _header(problems: _Problems, block: dict[str, Any], where: str) -> None:
    if problems.required(block, "text", where):
        problems.text(block["text"], f"{where}/text", limit=150, types=_PLAIN)


def _markdown(problems: _Problems, block: dict[str, Any], where: str) -> None:
    if problems.required(block, "text", where):
        problems.max_chars(block["text"], 12000, f"{where}/text")


def _context(problems: _Problems, block: dict[str, Any], where: str) -> None:
    if not problems.required(block, "elements", where) or not problems.is_array(block["elements"], f"{where}/elements"):
        return
    problems.max_items(block["elements"], 10, f"{where}/elements")
    for i, element in enumerate(block["elements"]):
        at = f"{where}/elements/{i}"
        if isinstance(element, dict) and element.get("type") == "image":
            _image_element(problems, element, at)
        else:
            problems.text(element, at, limit=3000)


def _actions(problems: _Problems, block: dict[str, Any], where: str) -> None:
    if not problems.required(block, "elements", where) or not problems.is_array(block["elements"], f"{where}/elements"):
        return
    problems.max_items(block["elements"], 25, f"{where}/elements")
    seen: set[str] = set()
    for i, element in enumerate(block["elements"]):
        _element(problems, element, f"{where}/elements/{i}", allowed=_ACTIONS_ELEMENTS)
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is not None:
            if action_id in seen:
                problems.add(f"{where}/elements/{i}/action_id", f"duplicate action_id: {action_id}")
            seen.add(action_id)


def _input(problems: _Problems, block: dict[str, Any], where: str) -> None:
    if problems.required(block, "label", where):
        problems.text(block["label"], f"{where}/label", limit=2000, types=_PLAIN)
    if block.get("hint") is not None:
        problems.text(block["hint"], f"{where}/hint", limit=2000, types=_PLAIN)
    if problems.required(block, "element", where):
        _element(problems, block["element"], f"{where}/element", allowed=_INPUT_ELEMENTS)


def _image_block(problems: _Problems, block: dict[str, Any], where: str) -> None:
    _image_element(problems, block, where)
    if block.get("title") is not None:
        problems.text(block["title"], f"{where}/title", limit=2000, types=_PLAIN)


def _image_element(problems: _Problems, image: dict[str, Any], where: str) -> None:
    if image.get("image_url") is None and image.get("slack_file") is None:
        problems.add(where, "missing required field: image_url")
    problems.max_chars(image.get("image_url"), 3000, f"{where}/image_url")
    if problems.required(image, "alt_text", where):
        problems.max_chars(image["alt_text"], 2000, f"{where}/alt_text")


_BLOCK_CHECKS = {
    "section": _section,
    "header": _header,
    "markdown": _markdown,
    "context": _context,
    "actions": _actions,
    "input": _input,
    "image": _image_block,
    "divider": lambda problems, block, where: None,
}


def _element(problems: _Problems, element: Any, where: str, *, allowed: set[str]) -> None:
    if not problems.is_object(element, where):
        return
    kind = element.get("type")
    if kind not in allowed:
        problems.add(where, "failed to match all allowed schemas")
        return
    if kind == "image":
        _image_element(problems, element, where)
        return
    problems.max_chars(element.get("action_id"), 255, f"{where}/action_id")
    if element.get("placeholder") is not None:
        problems.text(element["placeholder"], f"{where}/placeholder", limit=150, types=_PLAIN)
    if element.get("confirm") is not None:
        _confirm(problems, element["confirm"], f"{where}/confirm")
    if kind == "button":
        if problems.required(element, "text", where):
            problems.text(element["text"], f"{where}/text", limit=75, types=_PLAIN)
        problems.max_chars(element.get("value"), 2000, f"{where}/value")
        problems.max_chars(element.get("url"), 3000, f"{where}/url")
        if element.get("style") not in (None, "primary", "danger"):
            problems.add(f"{where}/style", "must be a valid enum value")
    elif kind in _SELECTS_WITH_OPTIONS:
        if "option_groups" in element:
            _check_option_groups(problems, element["option_groups"], f"{where}/option_groups", _PLAIN)
        elif problems.required(element, "options", where):
            _check_options(problems, element["options"], f"{where}/options", limit=100, text_types=_PLAIN)
    elif kind == "overflow":
        if problems.required(element, "options", where):
            _check_options(problems, element["options"], f"{where}/options", limit=5, text_types=_PLAIN)
    elif kind in _CHOICES:
        if problems.required(element, "options", where):
            _check_options(problems, element["options"], f"{where}/options", limit=10, text_types=_ANY_TEXT)
    elif kind == "plain_text_input":
        problems.max_chars(element.get("initial_value"), 3000, f"{where}/initial_value")
        for bound in ("min_length", "max_length"):
            value = element.get(bound)
            if isinstance(value, int) and not 0 <= value <= 3000:
                problems.add(f"{where}/{bound}", "must be less than 3001")


def _confirm(problems: _Problems, confirm: Any, where: str) -> None:
    if not problems.is_object(confirm, where):
        return
    for field, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
        if problems.required(confirm, field, where):
            types = _ANY_TEXT if field == "text" else _PLAIN
            problems.text(confirm[field], f"{where}/{field}", limit=limit, types=types)


def _check_options(problems: _Problems, options: Any, where: str, *, limit: int, text_types: Sequence[str]) -> None:
    if not problems.is_array(options, where):
        return
    problems.max_items(options, limit, where)
    for i, option in enumerate(options):
        at = f"{where}/{i}"
        if not problems.is_object(option, at):
            continue
        if problems.required(option, "text", at):
            problems.text(option["text"], f"{at}/text", limit=75, types=text_types)
        if problems.required(option, "value", at):
            problems.max_chars(option["value"], 150, f"{at}/value")
        if option.get("description") is not None:
            problems.text(option["description"], f"{at}/description", limit=75, types=text_types)
        problems.max_chars(option.get("url"), 3000, f"{at}/url")


def _check_option_groups(problems: _Problems, groups: Any, where: str, text_types: Sequence[str]) -> None:
    if not problems.is_array(groups, where):
        return
    problems.max_items(groups, 100, where)
    for i, group in enumerate(groups):
        at = f"{where}/{i}"
        if not problems.is_object(group, at):
            continue
        if problems.required(group, "label", at):
            problems.text(group["label"], f"{at}/label", limit=75, types=_PLAIN)
        if problems.required(group, "options", at):
            _check_options(problems, group["options"], f"{at}/options", limit=100, text_types=text_types)


# Reading the interactive elements a person uses


def _random_id(length: int = 5) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def assign_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of `blocks` with the random `block_id`s and `action_id`s Slack gives blocks and elements
    that arrive without one, as Slack returns them and as they come back in interaction payloads."""
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        if isinstance(block, dict):
            block.setdefault("block_id", _random_id())
            for element in _block_elements(block):
                if element.get("type") in INTERACTIVE_ELEMENTS:
                    element.setdefault("action_id", _random_id())
    return blocks


def _block_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block.get("type") == "actions":
        return [e for e in block.get("elements") or [] if isinstance(e, dict)]
    if block.get("type") == "section" and isinstance(block.get("accessory"), dict):
        return [block["accessory"]]
    if block.get("type") == "input" and isinstance(block.get("element"), dict):
        return [block["element"]]
    return []


def iter_elements(blocks: Sequence[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every interactive element with the block holding it, in the order a person sees them."""
    for block in blocks:
        for element in _block_elements(block):
            if element.get("type") in INTERACTIVE_ELEMENTS:
                yield block, element


def find_element(
    blocks: Sequence[dict[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (block, element) a person would use; `LookupError` if the surface shows no such element."""
    found = [
        (block, element)
        for block, element in iter_elements(blocks)
        if element.get("action_id") == action_id and block_id in (None, block.get("block_id"))
    ]
    if not found:
        shown = sorted({str(e.get("action_id")) for _, e in iter_elements(blocks)})
        raise LookupError(f"no element with action_id {action_id!r} here; the surface shows {shown}")
    if len(found) > 1:
        raise LookupError(f"several elements have action_id {action_id!r}; pass block_id to pick one")
    return found[0]


def _all_options(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _option(element: Mapping[str, Any], choice: Any) -> dict[str, Any]:
    if isinstance(choice, dict):
        return choice
    if element.get("type") in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": str(choice)}, "value": str(choice)}
    options = _all_options(element)
    for option in options:
        if option.get("value") == choice:
            return option
    # A person names an option by what it says: "200 – Sales", or "200 - sales" as typed on a keyboard.
    named = [o for o in options if _as_typed(str((o.get("text") or {}).get("text", ""))) == _as_typed(str(choice))]
    if len(named) == 1:
        return named[0]
    shown = [str((o.get("text") or {}).get("text", "")) for o in options]
    if named:
        raise LookupError(f"{element.get('action_id')!r} offers several options saying {choice!r}: give its value")
    raise LookupError(f"{element.get('action_id')!r} offers no option {choice!r} (by value or text); it offers {shown}")


def _as_typed(text: str) -> str:
    """Text as a person types it: any dash a hyphen, spaces collapsed, case ignored."""
    return " ".join(re.sub("[\u2010-\u2015\u2212]", "-", text).split()).casefold()


def _chosen(element: Mapping[str, Any], choice: Any) -> dict[str, Any]:
    """The type-specific fields Slack uses for what a person chose in `element`."""
    kind = element.get("type")
    if kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        return {"selected_option": None if choice is None else _option(element, choice)}
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return {"selected_options": [_option(element, c) for c in choice or []]}
    singles = {
        "users_select": "selected_user",
        "conversations_select": "selected_conversation",
        "channels_select": "selected_channel",
        "datepicker": "selected_date",
        "timepicker": "selected_time",
        "datetimepicker": "selected_date_time",
        "rich_text_input": "rich_text_value",
    }
    multiples = {
        "multi_users_select": "selected_users",
        "multi_conversations_select": "selected_conversations",
        "multi_channels_select": "selected_channels",
        "file_input": "files",
    }
    if kind in singles:
        return {singles[kind]: choice}
    if kind in multiples:
        return {multiples[kind]: list(choice or [])}
    return {"value": choice}


_INITIAL = {
    "static_select": "initial_option",
    "external_select": "initial_option",
    "radio_buttons": "initial_option",
    "multi_static_select": "initial_options",
    "multi_external_select": "initial_options",
    "checkboxes": "initial_options",
    "users_select": "initial_user",
    "multi_users_select": "initial_users",
    "conversations_select": "initial_conversation",
    "multi_conversations_select": "initial_conversations",
    "channels_select": "initial_channel",
    "multi_channels_select": "initial_channels",
    "datepicker": "initial_date",
    "timepicker": "initial_time",
    "datetimepicker": "initial_date_time",
    "plain_text_input": "initial_value",
    "email_text_input": "initial_value",
    "url_text_input": "initial_value",
    "number_input": "initial_value",
    "rich_text_input": "initial_value",
}


def action_fields(element: Mapping[str, Any], choice: Any = None) -> dict[str, Any]:
    """One entry of a `block_actions` payload's `actions` for a person using `element`
    (without `block_id` and `action_ts`, which the caller knows)."""
    fields: dict[str, Any] = {"type": element.get("type"), "action_id": element.get("action_id")}
    if element.get("type") == "button":
        fields["text"] = element.get("text")
        for key in ("value", "style"):
            if key in element:
                fields[key] = element[key]
        return fields
    return fields | _chosen(element, choice)


def state_values(
    blocks: Sequence[dict[str, Any]], chosen: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """A surface's `state.values`: `{block_id: {action_id: {type, value | selected_...}}}`.

    `chosen` gives what the person entered, `{block_id: {action_id: choice}}`; a choice is the text typed,
    an option's value (or the option itself), a list of those for multi-selects, a user/channel id or a
    date; a dict with a `type` is taken as the finished state entry. Elements left alone keep their
    `initial_*` value, as in Slack.
    """
    chosen = chosen or {}
    values: dict[str, dict[str, Any]] = {}
    for block, element in iter_elements(blocks):
        kind = str(element.get("type"))
        if kind not in _STATEFUL_ELEMENTS:
            continue
        block_id, action_id = block["block_id"], element["action_id"]
        given = chosen.get(block_id, {})
        if action_id in given:
            choice = given[action_id]
            finished = isinstance(choice, dict) and "type" in choice
            entry = dict(choice) if finished else {"type": kind} | _chosen(element, choice)
        else:
            entry = {"type": kind} | _chosen(element, None)
            initial = element.get(_INITIAL.get(kind, ""))
            if initial is not None:
                entry[next(key for key in entry if key != "type")] = initial
        values.setdefault(block_id, {})[action_id] = entry
    unknown = {(b, a) for b, actions in chosen.items() for a in actions} - {
        (b, a) for b, actions in values.items() for a in actions
    }
    if unknown:
        raise LookupError(f"the surface has no input for {sorted(unknown)}")
    return values


def unfilled_inputs(blocks: Sequence[dict[str, Any]], values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Required inputs left empty (or text outside min/max length): Slack's client will not submit the view."""
    problems = []
    for block in blocks:
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        element = block["element"]
        entry = values.get(block.get("block_id", ""), {}).get(element.get("action_id", ""), {})
        filled = [v for k, v in entry.items() if k != "type" and v not in (None, "", [])]
        if not filled and not block.get("optional", False):
            problems.append(f"{block.get('block_id')}: required")
        text = entry.get("value")
        if isinstance(text, str) and element.get("type") == "plain_text_input":
            if len(text) > element.get("max_length", 3000):
                problems.append(f"{block.get('block_id')}: longer than {element.get('max_length', 3000)}")
            if text and len(text) < element.get("min_length", 0):
                problems.append(f"{block.get('block_id')}: shorter than {element['min_length']}")
    return problems
