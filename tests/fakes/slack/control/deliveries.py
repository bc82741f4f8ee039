"""What a person does through the control API, delivered to the bot (Socket Mode when it holds a connection,
else HTTP), and the answer: the bot's acknowledgement and what it posted until it went quiet."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.fakes import blockkit
from tests.fakes.slack.control.lookup import ControlLookup
from tests.fakes.slack.events import Events
from tests.fakes.slack.modals import Modals
from tests.fakes.slack.records import Call, Delivery, ResponsePost, Transport

POSTING_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.delete",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
        "files.completeUploadExternal",
    }
)
_NOT_SHOWN_ARGS = frozenset({"trigger_id", "interactivity_pointer", "hash"})
_NO_BOT = (
    "no bot to deliver to: start the bot in Socket Mode (SLACK_APP_TOKEN), or start this fake with "
    "--request-url pointing at the bot's /slack/events"
)


class NoBot(Exception):
    """Nothing to deliver to: no Socket Mode connection and no request URL."""


class ControlDeliveries(ControlLookup, Modals, Events):
    def _control_command(self, body: dict[str, Any]) -> dict[str, Any]:
        """Type a slash command: `{"text": "/accounts help", "user_id"?, "channel_id"?, "team_id"?}` (ids or
        names; by default the person who installs the app, in the first channel the bot is in with them)."""
        text = str(body.get("text") or "")
        with self._changed:
            team_id, user_id = self._control_person(body.get("user_id"), body.get("team_id"))
            channel_id = self._control_channel(body.get("channel_id"), team_id, user_id)

        def send(transport: Transport) -> Delivery:
            return self.send_command(text, user_id=user_id, channel_id=channel_id, team_id=team_id, transport=transport)

        return {"user_id": user_id, "channel_id": channel_id} | self._control_deliver(body, send)

    def _control_action(self, body: dict[str, Any]) -> dict[str, Any]:
        """Press a button or choose in a select: `{"action_id", "value"?, "values"?, "block_id"?, "user_id"?}`.

        Where the element is (`view_id`, or `channel_id` + `message_ts`) may be left out: the newest surface
        the person sees with that element is used, their open modal, then messages newest first, then App Home."""
        action_id = str(body.get("action_id") or "")
        if not action_id:
            raise ValueError("say which element: action_id")
        block_id = body.get("block_id")
        with self._changed:
            team_id, user_id = self._control_person(body.get("user_id"), body.get("team_id"))
            where: dict[str, Any] = {}
            if body.get("view_id"):
                where = {"view_id": body["view_id"]}
            elif body.get("message_ts"):
                channel_id = self._control_channel(body.get("channel_id"), team_id, user_id)
                where = {"channel_id": channel_id, "message_ts": body["message_ts"]}
            else:
                only_in = (
                    self._control_channel(body["channel_id"], team_id, user_id) if body.get("channel_id") else None
                )
                where = self._control_surface(team_id, user_id, action_id, block_id, only_in)

        def send(transport: Transport) -> Delivery:
            return self.send_action(
                action_id,
                user_id=user_id,
                team_id=team_id,
                block_id=block_id,
                value=body.get("value"),
                values=body.get("values"),
                transport=transport,
                **where,
            )

        return {"user_id": user_id} | where | self._control_deliver(body, send)

    def _control_submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a modal, by default the one the person is looking at: `{"fields"?: {action_id: choice},
        "values"?: {block_id: {action_id: choice}}, "view_id"?, "user_id"?}`."""
        with self._changed:
            if body.get("view_id"):
                view_id = str(body["view_id"])
            else:
                team_id, user_id = self._control_person(body.get("user_id"), body.get("team_id"))
                stack = self._stacks.get((team_id, user_id))
                if not stack:
                    raise LookupError(f"{user_id} has no modal open")
                view_id = stack[-1]
            values = {block: dict(actions) for block, actions in (body.get("values") or {}).items()}
            for action_id, choice in (body.get("fields") or {}).items():
                block, _ = blockkit.find_element(self._views[view_id].view["blocks"], action_id)
                values.setdefault(block["block_id"], {})[action_id] = choice

        def send(transport: Transport) -> Delivery:
            return self.send_view_submission(view_id, values, transport=transport)

        return {"view_id": view_id} | self._control_deliver(body, send)

    def _control_options(self, body: dict[str, Any]) -> dict[str, Any]:
        """Type into an external select (a typeahead): `{"action_id", "value", "view_id"?, "block_id"?,
        "user_id"?}`; answers the options the bot offered. Where the select is may be left out, as for
        `/fake/action`."""
        action_id, typed = str(body.get("action_id") or ""), str(body.get("value") or "")
        if not action_id:
            raise ValueError("say which select: action_id")
        block_id = body.get("block_id")
        with self._changed:
            team_id, user_id = self._control_person(body.get("user_id"), body.get("team_id"))
            if body.get("view_id"):
                where: dict[str, Any] = {"view_id": body["view_id"]}
            else:
                where = self._control_surface(team_id, user_id, action_id, block_id, None)
        delivery = self.send_options(
            action_id,
            typed,
            user_id=user_id,
            team_id=team_id,
            block_id=block_id,
            transport=self._control_transport(body.get("transport")),
            **where,
        )
        ack = delivery.ack if isinstance(delivery.ack, dict) else {}
        return {
            "acked": delivery.acked,
            "problems": list(delivery.problems),
            "options": ack.get("options") or [],
            "option_groups": ack.get("option_groups") or [],
        }

    def _control_close(self, body: dict[str, Any]) -> dict[str, Any]:
        """Press a modal's close button, by default on the one the person is looking at: `{"view_id"?,
        "user_id"?}`. The bot hears of it only if the view asked (`notify_on_close`)."""
        with self._changed:
            if body.get("view_id"):
                view_id = str(body["view_id"])
            else:
                team_id, user_id = self._control_person(body.get("user_id"), body.get("team_id"))
                stack = self._stacks.get((team_id, user_id))
                if not stack:
                    raise LookupError(f"{user_id} has no modal open")
                view_id = stack[-1]
        delivery = self.close_view(view_id)
        return {"view_id": view_id, "notified": delivery is not None}

    def _control_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send an Events API event: the event itself (`{"type": "app_home_opened", "user"?}`) or `{"event":
        {...}, "team_id"?}`; the person defaults as for commands, `app_home_opened` to the Home tab."""
        event = dict(body["event"]) if isinstance(body.get("event"), dict) else dict(body)
        for control_key in ("team_id", "wait", "quiet", "transport"):
            event.pop(control_key, None)
        if not event.get("type"):
            raise ValueError("an event has a type, e.g. app_home_opened")
        with self._changed:
            team_id, user_id = self._control_person(event.get("user"), body.get("team_id"))
        event["user"] = user_id
        if event["type"] == "app_home_opened":
            event.setdefault("tab", "home")

        def send(transport: Transport) -> Delivery:
            return self.send_event(event, team_id=team_id, transport=transport)

        return {"event": event} | self._control_deliver(body, send)

    def _control_deliver(self, body: dict[str, Any], send: Callable[[Transport], Delivery]) -> dict[str, Any]:
        """Deliver, then wait until the bot has been quiet for `quiet` seconds (at most `wait`) and report
        its acknowledgement and what it posted meanwhile."""
        transport = self._control_transport(body.get("transport"))
        wait, quiet = float(body.get("wait", 10.0)), float(body.get("quiet", 1.0))
        with self._changed:
            mark = (len(self._calls), len(self._responses))
        delivery = send(transport)
        self._control_settle(wait, quiet)
        with self._changed:
            posted = self._posted_since(*mark)
        return {
            "transport": delivery.transport,
            "acked": delivery.acked,
            "ack": delivery.ack,
            "problems": list(delivery.problems),
            "elapsed": round(delivery.elapsed, 3),
            "posted": posted,
        }

    def _control_transport(self, asked: Any) -> Transport:
        if asked in ("http", "socket"):
            return "http" if asked == "http" else "socket"
        if self._live_socket() is not None:
            return "socket"
        if self.request_url:
            return "http"
        raise NoBot(_NO_BOT)

    def _control_settle(self, wait: float, quiet: float) -> None:
        deadline = time.monotonic() + wait
        seen, since = -1, time.monotonic()
        with self._changed:
            while True:
                now = time.monotonic()
                activity = len(self._calls) + len(self._responses)
                if activity != seen:
                    seen, since = activity, now
                elif now - since >= quiet:
                    return
                if now >= deadline:
                    return
                self._changed.wait(min(0.05, deadline - now))

    def _posted_since(self, calls_from: int, responses_from: int) -> list[dict[str, Any]]:
        """What the bot showed people since the marks: posting Web API calls and response URL posts."""
        posts = [(c.time, _call_post(c)) for c in self._calls[calls_from:] if c.method in POSTING_METHODS]
        posts += [(r.time, _response_post(r)) for r in self._responses[responses_from:]]
        return [post for _, post in sorted(posts, key=lambda p: p[0])]


def _call_post(call: Call) -> dict[str, Any]:
    post: dict[str, Any] = {"method": call.method, "ok": call.ok}
    if not call.ok:
        post["error"] = call.response.get("error")
    post |= {k: v for k, v in call.args.items() if k not in _NOT_SHOWN_ARGS}
    for key in ("channel", "ts"):
        if key in call.response:
            post[key] = call.response[key]
    if "view" in call.response:
        post["view"] = call.response["view"]  # with the ids Slack gave it and its blocks
    return post


def _response_post(post: ResponsePost) -> dict[str, Any]:
    return {"method": "response_url", "ok": post.status == 200, "status": post.status} | post.payload
