"""`python -m tests.fakes.slack.say --url http://127.0.0.1:8001 "/accounts help"`: type into the Slack fake as a
person and print what the bot answered, through the fake's control API (`/fake/...`).

Besides a slash command: `--click ACTION_ID [--value V]` presses a button or chooses in a select the bot showed,
`--submit [--field ACTION_ID=VALUE ...]` submits the open modal (an option named by its value or its text),
`--home` opens the App Home tab, `--ephemeral` shows the messages only that person sees (the organisation picker
the bot posts after a log-in in the browser, for one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import httpx2

from tests.fakes.slack.render import message_text, text_of, view_text

DEFAULT_URL = "http://127.0.0.1:8001"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    chosen = [bool(args.command), bool(args.click), args.submit, args.home, args.ephemeral]
    if sum(chosen) != 1:
        _parser().error("give one of: a slash command, --click, --submit, --home or --ephemeral")
    person = {"user_id": args.user} if args.user else {}
    timing = {"quiet": args.quiet}
    if args.command:
        path, body = "/fake/command", {"text": args.command, "channel_id": args.channel} | person | timing
    elif args.click:
        path, body = "/fake/action", {"action_id": args.click, "value": args.value, "channel_id": args.channel}
        body |= person | timing
    elif args.submit:
        if any("=" not in field for field in args.field):
            _parser().error("--field takes ACTION_ID=VALUE")
        fields = dict(field.split("=", 1) for field in args.field)
        path, body = "/fake/submit", {"fields": fields} | person | timing
    else:
        path, body = "/fake/event", {"type": "app_home_opened", "tab": "home"} | _as_event(person) | timing
    labels: dict[str, str] = {}
    try:
        with httpx2.Client(base_url=args.url, timeout=args.quiet + 30) as http:
            if args.ephemeral:
                return _print_ephemerals(http, person, args.channel)
            if args.submit:
                labels = _input_labels(http, person)
            answer = http.post(path, json={k: v for k, v in body.items() if v is not None}).json()
            if args.home and answer.get("ok") and not _published(answer):
                answer["home"] = http.get("/fake/home", params={"user": answer["event"]["user"]}).json().get("view")
    except httpx2.TransportError as exc:
        print(
            f"Cannot reach the Slack fake at {args.url} ({exc}). Start it with: python -m tests.fakes.slack",
            file=sys.stderr,
        )
        return 2
    except ValueError:
        print(f"{args.url} did not answer JSON: is it the Slack fake?", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, indent=2))
    elif answer.get("ok"):
        what = args.command or args.click or ("submit" if args.submit else "App Home")
        print(describe(answer, what=what, labels=labels))
    else:
        print(f"The fake refused: {answer.get('error')}", file=sys.stderr)
    return 0 if answer.get("ok") and answer.get("acked") else 1


def describe(answer: Mapping[str, Any], *, what: str, labels: Mapping[str, str] | None = None) -> str:
    """The control API's answer to a delivery, as a person would read the bot's replies; `labels` names a
    modal's inputs by block id, for the errors shown next to them."""
    where = " in ".join(str(answer[k]) for k in ("user_id", "channel_id") if answer.get(k))
    lines = [f"{what}" + (f"  ({where})" if where else "")]
    if not answer.get("acked"):
        lines.append("The bot did not acknowledge in time (Slack waits 3 seconds) and would show the person an error.")
    ack = answer.get("ack")
    if isinstance(ack, Mapping) and ack.get("response_action"):
        lines += _response_action(ack, labels or {})
    elif ack:
        reply = ack if isinstance(ack, Mapping) else {"text": str(ack)}
        lines += ["", "Replied in its acknowledgement (only you see it):", _indent(message_text(reply))]
    for problem in answer.get("problems") or []:
        lines.append(f"Slack would refuse the bot's answer: {problem}")
    for post in answer.get("posted") or []:
        lines += ["", *_post(post)]
    if answer.get("home"):
        lines += ["", "App Home (as published before):", _indent(view_text(answer["home"]))]
    if not ack and not answer.get("posted") and not answer.get("home"):
        lines.append("The bot posted nothing.")
    return "\n".join(lines)


def _post(post: Mapping[str, Any]) -> list[str]:
    method = post["method"]
    if not post.get("ok"):
        return [f"{method} was refused: {post.get('error') or post.get('status')}"]
    if method == "response_url":
        if post.get("delete_original") in (True, "true"):
            return ["Deleted the message it answered."]
        if post.get("replace_original") in (True, "true"):
            heading = "Replaced the message it answered with:"
        elif post.get("response_type") == "in_channel":
            heading = "Replied in the channel:"
        else:
            heading = "Replied (only you see it):"
        return [heading, _indent(message_text(post))]
    if method == "chat.postMessage":
        return [f"Posted in {post.get('channel')}:", _indent(message_text(post))]
    if method == "chat.postEphemeral":
        return [f"Posted in {post.get('channel')}, only {post.get('user')} sees it:", _indent(message_text(post))]
    if method == "chat.update":
        return [f"Updated its message {post.get('ts')} in {post.get('channel')}:", _indent(message_text(post))]
    if method == "chat.delete":
        return [f"Deleted its message {post.get('ts')} in {post.get('channel')}."]
    if method.startswith("views."):
        verb = {"views.open": "Opened", "views.push": "Pushed", "views.update": "Updated"}.get(method, "Published")
        return [f"{verb}:", _indent(view_text(post.get("view") or {}))]
    return [f"{method}: {json.dumps({k: v for k, v in post.items() if k not in ('method', 'ok')})}"]


def _response_action(ack: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    action = ack["response_action"]
    if action == "errors":
        errors = ack.get("errors") or {}
        shown = [f"  {labels.get(block, block)}: {message}" for block, message in errors.items()]
        return ["The modal stays open, showing:", *shown]
    if action in ("update", "push"):
        return [
            f"The modal is {'updated' if action == 'update' else 'pushed'}:",
            _indent(view_text(ack.get("view") or {})),
        ]
    return [f"The modals close ({action})." if action == "clear" else f"response_action {action}"]


def _input_labels(http: httpx2.Client, person: Mapping[str, str]) -> dict[str, str]:
    """The labels of the inputs of the modal the person is looking at, by block id."""
    views = http.get("/fake/modals", params={"user": person.get("user_id", "")}).json().get("views") or []
    blocks = views[-1].get("blocks") or [] if views else []
    return {str(b.get("block_id")): text_of(b.get("label")) for b in blocks if b.get("type") == "input"}


def _print_ephemerals(http: httpx2.Client, person: Mapping[str, str], channel: str | None) -> int:
    """What only the person sees, oldest first (in `channel`, or everywhere)."""
    query = {"user": person.get("user_id", "")} | ({"channel": channel} if channel else {})
    answer = http.get("/fake/ephemerals", params={k: v for k, v in query.items() if v}).json()
    if not answer.get("ok"):
        print(f"The fake refused: {answer.get('error')}", file=sys.stderr)
        return 1
    shown = answer.get("ephemerals") or []
    lines = [f"Only {answer.get('user_id')} sees" + (f" (in {channel})" if channel else "") + ":"]
    for message in shown:
        lines += ["", f"In {message.get('channel')}, {message.get('ts')}:", _indent(message_text(message))]
    if not shown:
        lines.append("Nothing.")
    print("\n".join(lines))
    return 0


def _published(answer: Mapping[str, Any]) -> bool:
    return any(p.get("method") == "views.publish" for p in answer.get("posted") or [])


def _as_event(person: dict[str, str]) -> dict[str, str]:
    return {"user": person["user_id"]} if person else {}


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else line for line in text.splitlines())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.slack.say",
        description="Type into the Slack fake as a person and print what the bot answered.",
    )
    parser.add_argument("command", nargs="?", help='a slash command, e.g. "/accounts help"')
    parser.add_argument(
        "--url",
        default=os.environ.get("SLACK_FAKE_URL", DEFAULT_URL),
        help=f"the Slack fake (default: $SLACK_FAKE_URL or {DEFAULT_URL})",
    )
    parser.add_argument("--user", help="who types: an id or a name (default: the person who installs the app)")
    parser.add_argument("--channel", help="where: an id or a name (default: the first channel the bot is in)")
    parser.add_argument("--click", metavar="ACTION_ID", help="press a button, or choose in a select, the bot showed")
    parser.add_argument("--value", help="with --click: the option to choose, by its value or its text")
    parser.add_argument("--submit", action="store_true", help="submit the modal that is open")
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="ACTION_ID=VALUE",
        help='with --submit: what to enter; an option by its value or its text (--field account_sales="200 – Sales")',
    )
    parser.add_argument("--home", action="store_true", help="open the App Home tab")
    parser.add_argument(
        "--ephemeral", action="store_true", help="show the messages only you see (in --channel, if given)"
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="the bot is done once it has posted nothing for this long (default: 1)",
    )
    parser.add_argument("--json", action="store_true", help="print the control API's answer as it is")
    return parser


if __name__ == "__main__":
    sys.exit(main())
