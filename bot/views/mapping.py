"""The mapping modal and what goes with it: the loading view, typeahead options, the confirmation and the
initial-import offer. Pure functions of plain data (`bot.mapping`'s forms and entries)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.categories import Category
from bot.mapping.account_mapping import (
    CategoryField,
    ChartEntry,
    MappingForm,
    MappingProblem,
    TaxProblem,
    kind_in_words,
    kinds_in_words,
)
from bot.mapping.tax_codes import TaxEntry
from bot.views.connect import refused_blocks
from bot.views.text import (
    SLACK_ID,
    bold,
    button,
    context,
    emoji,
    escape,
    mention,
    rich,
    section,
    slack_date,
    truncate,
)

Blocks = list[dict[str, Any]]
View = dict[str, Any]

CALLBACK_ID = "mapping_save"
LOADING_CALLBACK_ID = "mapping_loading"
REFRESH_ACTION = "mapping_refresh"
BLOCK_PREFIX = "category_"
ACTION_PREFIX = "account_"
TAX_BLOCK_PREFIX = "tax_"
TAX_ACTION_PREFIX = "taxcode_"
TITLE = "Map account codes"
SUBMIT = "Save accounting settings"
MIN_QUERY_LENGTH = 1
ROW_ID_MAX = 2**31 - 1
OPTION_VALUE_LIMIT = 150  # Slack's limit on an option's value
UNREADABLE = "\ufffd"  # an account chosen in a shape we never send


@dataclass(frozen=True)
class ModalMetadata:
    """What the modal carries in `private_metadata`: the connection, and where to confirm the save."""

    connection_id: int
    channel_id: str | None = None
    from_home: bool = False

    def dumps(self) -> str:
        return json.dumps({"c": self.connection_id, "ch": self.channel_id, "h": self.from_home}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: object) -> ModalMetadata | None:
        """What `dumps` wrote, or None for anything else (a row id out of range, a channel that is no id)."""
        try:
            data = json.loads(text) if isinstance(text, str) else None
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        connection_id, channel_id, from_home = data.get("c"), data.get("ch"), data.get("h", False)
        if type(connection_id) is not int or not 1 <= connection_id <= ROW_ID_MAX:
            return None
        if channel_id is not None and not (isinstance(channel_id, str) and SLACK_ID.fullmatch(channel_id)):
            return None
        if not isinstance(from_home, bool):
            return None
        return cls(connection_id, channel_id or None, from_home)


def block_id(category_key: str) -> str:
    return BLOCK_PREFIX + category_key


def action_id(category_key: str) -> str:
    return ACTION_PREFIX + category_key


def category_key(action_or_block_id: str) -> str:
    return action_or_block_id.removeprefix(ACTION_PREFIX).removeprefix(BLOCK_PREFIX)


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def _modal(blocks: Blocks, *, callback_id: str, metadata: ModalMetadata | None, submit: bool = False) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(TITLE, 24),
        "close": _plain("Cancel" if submit else "Close", 24),
        "blocks": blocks,
    }
    if submit:
        view["submit"] = _plain(SUBMIT, 24)
    if metadata is not None:
        view["private_metadata"] = metadata.dumps()
    return view


def loading_view(provider_title: str, metadata: ModalMetadata) -> View:
    """Opened at once while the chart is fetched; replaced by the mapping modal."""
    return _modal(
        [
            section(f":hourglass_flowing_sand: Getting your chart of accounts from {escape(provider_title)}…"),
            context("This usually takes a few seconds."),
        ],
        callback_id=LOADING_CALLBACK_ID,
        metadata=metadata,
    )


def problem_view(message: str) -> View:
    """A modal that only explains (`message` is mrkdwn the caller escaped)."""
    return _modal([section(message)], callback_id=LOADING_CALLBACK_ID, metadata=None)


def refused_view(what: str) -> View:
    return _modal(refused_blocks(what), callback_id=LOADING_CALLBACK_ID, metadata=None)


def account_option(entry: ChartEntry) -> dict[str, Any]:
    return {"text": _plain(entry.label, 75), "value": entry.id}


def _grouped(entries: Sequence[ChartEntry]) -> list[tuple[str, list[ChartEntry]]]:
    """Consecutive runs of one account type, in the order given (groups keep their first position)."""
    groups: dict[str, list[ChartEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.type, []).append(entry)
    return list(groups.items())


def _options(entries: Sequence[ChartEntry]) -> dict[str, Any]:
    """`{"options": [...]}`, or `{"option_groups": [...]}` by account type when there are several types."""
    groups = _grouped(entries)
    if len(groups) <= 1:
        return {"options": [account_option(e) for e in entries]}
    return {
        "option_groups": [
            {"label": _plain(members[0].type_words, 75), "options": [account_option(e) for e in members]}
            for _, members in groups
        ]
    }


def typeahead_options(entries: Sequence[ChartEntry]) -> dict[str, Any]:
    """The answer to a `block_suggestion`: at most 100 matches, grouped by account type."""
    return _options(list(entries)[:100])


def problem_words(problem: MappingProblem, provider_title: str) -> str:
    """What is wrong, in plain words (not escaped: plain_text takes it as is, mrkdwn callers escape it)."""
    account = problem.account.label if problem.account else "The account"
    if problem.reason == "gone":
        return f"{account} is no longer in {provider_title}'s chart of accounts"
    if problem.reason == "archived":
        return f"{account} is archived in {provider_title}"
    if problem.reason == "wrong_kind":
        kind = kind_in_words(problem.account.kind if problem.account else "", article=True)
        return (
            f"{account} is now {kind} account; {problem.category.label} takes {kinds_in_words(problem.category.kinds)}"
        )
    return "not mapped yet"


def tax_problem_words(problem: TaxProblem, provider_title: str) -> str:
    """What is wrong with a category's default tax code, in plain words (not escaped)."""
    if problem.reason == "archived" and problem.tax is not None:
        return f"its default tax code {problem.tax.label} is archived in {provider_title}"
    return f"its default tax code {problem.code} is no longer in {provider_title}"


def _hint(field: CategoryField, provider_title: str) -> str:
    parts = []
    if field.problem is not None:
        parts.append(f":warning: {problem_words(field.problem, provider_title)}: choose another.")
    if field.typeahead and field.candidates == 0:
        parts.append(
            f"{provider_title} has no {kinds_in_words(field.category.kinds)} account to choose; "
            f"add one in {provider_title}, then press Refresh."
        )
    elif field.typeahead:
        parts.append(f"Type part of a code or name to search {field.candidates} accounts.")
    if field.category.help:
        parts.append(field.category.help)
    return " ".join(parts)


def _field(field: CategoryField, provider_title: str) -> dict[str, Any]:
    key = field.category.key
    element: dict[str, Any] = {"action_id": action_id(key)}
    if field.typeahead:
        element |= {
            "type": "external_select",
            "placeholder": _plain("Type a code or name", 150),
            "min_query_length": MIN_QUERY_LENGTH,
        }
    else:
        element |= {"type": "static_select", "placeholder": _plain("Choose an account", 150)}
        element |= _options(field.options or ())
    if field.current is not None:
        element["initial_option"] = account_option(field.current)
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id(key),
        "optional": not field.category.required,
        "label": _plain(field.category.label, 2000),
        "element": element,
    }
    if hint := _hint(field, provider_title):
        block["hint"] = _plain(hint, 2000)
    return block


def tax_option(entry: TaxEntry) -> dict[str, Any]:
    return {"text": _plain(entry.label, 75), "value": entry.code}


def _tax_field(field: CategoryField) -> dict[str, Any] | None:
    """The category's default tax code, beside its account: a menu of the tax codes that suit its accounts."""
    if not field.tax_options:
        return None
    key = field.category.key
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": TAX_ACTION_PREFIX + key,
        "placeholder": _plain("The account's default", 150),
        "options": [tax_option(t) for t in field.tax_options],
    }
    if field.tax_current is not None and field.tax_current in field.tax_options:
        element["initial_option"] = tax_option(field.tax_current)
    return {
        "type": "input",
        "block_id": TAX_BLOCK_PREFIX + key,
        "optional": True,
        "label": _plain(f"{field.category.label}: tax code", 2000),
        "element": element,
        "hint": _plain(
            f"Invoice lines in {field.category.label} start with this tax code. Empty: the account's own default.",
            2000,
        ),
    }


def mapping_modal(form: MappingForm, metadata: ModalMetadata) -> View:
    """One dropdown per category, pre-filled; a static menu up to 100 candidates, a typeahead beyond."""
    provider = escape(form.provider_title)
    as_of = f" as of {slack_date(form.chart_refreshed_at)}" if form.chart_refreshed_at else ""
    blocks: Blocks = [
        rich(
            "Choose the account each category posts to in ", bold(form.organisation_name), f" ({form.provider_title})."
        ),
        section(
            f"Accounts come from the {provider} chart of accounts{as_of}; archived accounts are not listed.",
            accessory=button(f"Refresh from {form.provider_title}", REFRESH_ACTION),
        ),
    ]
    if form.notice:
        blocks.append(context(f":warning: {escape(form.notice)}"))
    for field in form.fields:
        blocks.append(_field(field, form.provider_title))
        if (tax := _tax_field(field)) is not None:
            blocks.append(tax)
    return _modal(blocks, callback_id=CALLBACK_ID, metadata=metadata, submit=True)


def read_choices(state_values: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """The account id chosen per category key (None where left empty), from a submitted view's state."""
    choices: dict[str, str | None] = {}
    for block, actions in state_values.items():
        if not block.startswith(BLOCK_PREFIX):
            continue
        for action, entry in actions.items():
            if action.startswith(ACTION_PREFIX) and isinstance(entry, Mapping):
                choices[category_key(action)] = _chosen_account(entry.get("selected_option"))
    return choices


def read_tax_choices(state_values: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """The tax code chosen per category key (None where left empty), from a submitted view's state."""
    choices: dict[str, str | None] = {}
    for block, actions in state_values.items():
        if not block.startswith(TAX_BLOCK_PREFIX):
            continue
        for action, entry in actions.items():
            if action.startswith(TAX_ACTION_PREFIX) and isinstance(entry, Mapping):
                choices[action.removeprefix(TAX_ACTION_PREFIX)] = _chosen_account(entry.get("selected_option"))
    return choices


def _chosen_account(option: object) -> str | None:
    """The account id of a chosen option; what is not one of our option values becomes `UNREADABLE`, which matches
    no account, so saving it is refused as not in the chart."""
    if not option:
        return None
    value = option.get("value") if isinstance(option, Mapping) else UNREADABLE
    if not value:
        return None
    return value if isinstance(value, str) and len(value) <= OPTION_VALUE_LIMIT else UNREADABLE


def field_errors(errors: Mapping[str, str], tax_errors: Mapping[str, str] | None = None) -> dict[str, str]:
    """Errors by category key (accounts, and tax codes) → by block id, as `response_action: errors` wants them."""
    found = {block_id(key): truncate(message, 2000) for key, message in errors.items()}
    return found | {TAX_BLOCK_PREFIX + key: truncate(message, 2000) for key, message in (tax_errors or {}).items()}


def _mapping_lines(
    entries: Iterable[tuple[Category, ChartEntry | None]], taxes: Mapping[str, TaxEntry | None]
) -> list[str]:
    return [
        f"• *{escape(category.label)}*: "
        + (escape(entry.label) if entry else "_not mapped_")
        + (f", tax {escape(tax.label)}" if entry and (tax := taxes.get(category.key)) else "")
        for category, entry in entries
    ]


def _chunks(lines: Sequence[str], limit: int = 3000) -> list[str]:
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(truncate(line, limit))
    return chunks


def confirmation_blocks(
    *,
    organisation_name: str,
    provider_title: str,
    entries: Sequence[tuple[Category, ChartEntry | None]],
    user_id: str,
    saved_at: datetime,
    taxes: Mapping[str, TaxEntry | None] | None = None,
) -> Blocks:
    blocks: Blocks = [
        rich(
            emoji("white_check_mark"),
            " ",
            bold("Account codes saved"),
            " for ",
            bold(organisation_name),
            f" ({provider_title}).",
        )
    ]
    blocks += [section(chunk) for chunk in _chunks(_mapping_lines(entries, taxes or {}))]
    blocks.append(
        context(f"Saved by {mention(user_id)} on {slack_date(saved_at)}. Change them any time with `/accounts map`.")
    )
    return blocks


def import_offer_blocks(*, connection_id: int, organisation_name: str, provider_title: str) -> Blocks:
    """Offered after the first save: the initial import of every customer."""
    return [
        rich(
            bold("Import your customers now?"),
            " I can bring every customer of ",
            bold(organisation_name),
            f" over from {provider_title}.",
        ),
        {
            "type": "actions",
            "block_id": "import_offer",
            "elements": [
                button("Yes, import all my customers", "import_start", value=str(connection_id), style="primary"),
                button("Not now", "import_not_now", value=str(connection_id)),
            ],
        },
        context("You can import later with `/accounts import`."),
    ]
