"""Messages of the connect and disconnect flows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.views.text import bold, button, code, context, emoji, escape, mention, rich, section, slack_date, truncate
from providers.base import Organisation

Blocks = list[dict[str, Any]]

# Every "Connect <package>" button is this one action, with the package's name as its value; the action ids differ
# only after the colon, since Slack wants them unique within a block.
CONNECT_PROVIDER = re.compile(r"^connect_provider(:|$)")


def connect_button(name: str, title: str, *, style: str | None = None) -> dict[str, Any]:
    return button(title, f"connect_provider:{name}", value=name, style=style)


def login_blocks(provider_title: str, url: str, expires_at: datetime) -> Blocks:
    return [
        section(
            f"*Connect {escape(provider_title)}*\nLog in to {escape(provider_title)} and choose *Allow access*. "
            "You'll come back here when it's done."
        ),
        {
            "type": "actions",
            "block_id": "connect_login",
            "elements": [button(f"Log in to {provider_title}", "connect_login", url=url, style="primary")],
        },
        context(f"This link works once, for you only, until {slack_date(expires_at)}."),
    ]


def choose_provider_blocks(providers: Sequence[tuple[str, str]]) -> Blocks:
    if not providers:
        return [
            section(
                "No accounting package is set up on this bot yet. The person who runs it needs to add the "
                "package's client id and secret to the bot's settings; `accounts-bot doctor` names them."
            )
        ]
    return [
        section("*Which accounting package do you use?*"),
        {
            "type": "actions",
            "block_id": "connect_choose",
            "elements": [connect_button(name, title) for name, title in providers[:5]],
        },
    ]


def replace_blocks(provider_title: str, organisation: str, new_provider: str, new_title: str) -> Blocks:
    return [
        rich(
            "This workspace is already connected to ",
            bold(organisation),
            f" in {provider_title}. Replace it with a new {new_title} connection?",
        ),
        {
            "type": "actions",
            "block_id": "connect_replace",
            "elements": [
                button("Replace it", "connect_replace", value=new_provider, style="danger"),
                button("Keep it", "connect_keep", value=new_provider),
            ],
        },
        context("Reconnecting the same organisation keeps its account mapping and customers."),
    ]


def picker_blocks(provider_title: str, pending_id: int, organisations: Sequence[Organisation]) -> Blocks:
    """A button per organisation (up to five), or one dropdown for more; the one just authorised first."""

    def label(o: Organisation) -> str:
        return o.name + (" (just authorised)" if o.just_authorised else "")

    intro = section(
        f"Your {escape(provider_title)} log-in reaches *{len(organisations)} organisations*. "
        "Which one should accounts-bot connect to?"
    )
    if len(organisations) <= 5:
        chooser: dict[str, Any] = {
            "type": "actions",
            "block_id": "choose_organisation",
            "elements": [
                button(f"Connect {truncate(o.name, 60)}", f"choose_organisation_{i}", value=f"{pending_id}:{o.id}")
                for i, o in enumerate(organisations)
            ],
        }
        listing = section("\n".join(f"• {escape(label(o))}" for o in organisations))
        blocks = [intro, listing, chooser]
    else:
        options = [
            {"text": {"type": "plain_text", "text": truncate(label(o), 75)}, "value": f"{pending_id}:{o.id}"}
            for o in organisations[:100]
        ]
        chooser = {
            "type": "actions",
            "block_id": "choose_organisation",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": "choose_organisation_select",
                    "placeholder": {"type": "plain_text", "text": "Choose an organisation"},
                    "options": options,
                }
            ],
        }
        blocks = [intro, chooser]
    blocks.append(context("The organisations you don't pick are disconnected straight away."))
    return blocks


def connected_blocks(
    provider_title: str, organisation: str, *, reconnected: bool, mapping_kept: bool = False
) -> Blocks:
    """`mapping_kept`: a reconnection whose saved account mapping still holds, so there is no next step to take."""
    verb = "reconnected to" if reconnected else "connected to"
    blocks = [
        rich(emoji("white_check_mark"), f" accounts-bot is now {verb} ", bold(organisation), f" in {provider_title}."),
    ]
    if mapping_kept:
        blocks.append(
            context(
                "Its account mapping and imported customers are kept, and scheduled syncs carry on: there is "
                "nothing more to do. `/accounts map` changes the mapping, `/accounts status` shows everything."
            )
        )
        return blocks
    if reconnected:
        blocks.append(context("Its imported customers are kept; its account mapping needs a look."))
    blocks.append(section("*Next step:* tell me which account code each of your categories posts to."))
    blocks.append(
        {
            "type": "actions",
            "block_id": "next_step",
            "elements": [button("Map account codes", "open_mapping", style="primary")],
        }
    )
    return blocks


CONFIGURATION_ADVICE = (
    "This is about how accounts-bot itself is set up, so trying again won't help. Please tell whoever runs "
    "accounts-bot: `accounts-bot doctor` on its server says which setting is wrong."
)


def callback_problem_blocks(message: str, *, configuration: bool = False) -> Blocks:
    """`configuration`: the package refused accounts-bot's own settings; a retry would only fail the same way."""
    advice = CONFIGURATION_ADVICE if configuration else "Run `/accounts connect` to try again."
    return [section(f":warning: {escape(message)}"), context(advice)]


def disconnect_confirm_blocks(provider_title: str, organisation: str, *, version: str) -> Blocks:
    """The question, with a Disconnect button that names the version of the connection it was asked for."""
    return [
        rich(
            "Disconnect ",
            bold(organisation),
            f" ({provider_title})? accounts-bot will stop syncing and forget its log-in. "
            "Customers already imported stay.",
        ),
        {
            "type": "actions",
            "block_id": "disconnect",
            "elements": [
                button("Disconnect", "disconnect_confirm", value=version, style="danger"),
                button("Cancel", "disconnect_cancel"),
            ],
        },
    ]


def disconnected_blocks(provider_title: str, organisation: str, remote_error: str | None) -> Blocks:
    blocks = [
        rich(
            emoji("electric_plug"),
            " Disconnected ",
            bold(organisation),
            f" ({provider_title}). Its log-in is deleted; imported customers stay. Connect again any time with ",
            code("/accounts connect"),
            ".",
        )
    ]
    if remote_error:
        blocks.append(
            context(
                f"{escape(provider_title)} did not confirm the removal ({escape(remote_error)}); you can also remove "
                f"accounts-bot under Connected apps in {escape(provider_title)}."
            )
        )
    return blocks


def refused_blocks(action: str) -> Blocks:
    return [
        section(
            f":lock: Only Slack workspace admins and owners, and people they add, can {action}. "
            "Ask an admin, or ask one to run `/accounts admins add @you`."
        )
    ]


def admins_text(added: Sequence[str]) -> str:
    people = ", ".join(mention(u) for u in added) or "nobody yet"
    return f"Slack workspace admins and owners can manage accounts-bot, and so can: {people}."


def admin_changed_text(user_id: str, *, added: bool, changed: bool) -> str:
    if added:
        return (
            f"{mention(user_id)} can now connect, disconnect and map accounts."
            if changed
            else f"{mention(user_id)} could already."
        )
    return (
        f"{mention(user_id)} can no longer manage accounts-bot."
        if changed
        else f"{mention(user_id)} was not on the list."
    )
