"""What we say when a command names a person or a channel we can't find."""

from __future__ import annotations

from bot.views.text import escape, truncate


def nobody_named_text(word: str, *, several: bool, command: str = "/accounts") -> str:
    shown = escape(truncate(word, 80))
    if several:
        return (
            f"More than one person in this workspace is called `{shown}`. Type `@` and pick them from Slack's "
            f"suggestions, so the name is linked: `{command} admins add @someone`."
        )
    return (
        f"I can't find anyone called `{shown}` in this workspace. Type `@` and pick them from Slack's "
        f"suggestions: `{command} admins add @someone`."
    )


def no_channel_named_text(word: str, *, several: bool, command: str = "/accounts") -> str:
    shown = escape(truncate(word, 80))
    if several:
        return f"More than one channel is called `{shown}`. Run `{command} channel here` in the one you want."
    return (
        f"I can't find a channel called `{shown}` (a private channel must invite me first: "
        f"`/invite @accounts-bot`). Pick it from Slack's suggestions after `#`, or run `{command} channel here` "
        "in the channel you want."
    )
