"""A person using the app, delivered to the bot as Slack delivers it: a slash command, a click or choice in a
message or view, typing into an external select."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.fakes import blockkit
from tests.fakes.slack.delivery import Deliveries
from tests.fakes.slack.ids import _wall_ts
from tests.fakes.slack.records import Delivery, Transport, User, Workspace
from tests.fakes.slack.response_urls import ResponseUrls


class Interactions(Deliveries, ResponseUrls):
    def send_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """A person types `text` (e.g. "/accounts import now") in a channel or DM. The bot's immediate
        answer, if any, is posted as Slack posts it (ephemeral unless `response_type` is in_channel)."""
        command, _, arguments = text.strip().partition(" ")
        if not command.startswith("/"):
            raise ValueError("a slash command starts with /")
        with self._changed:
            user, workspace = self._person(user_id, team_id)
            channel = self._visible_channel(workspace, channel_id, user.user_id)
            response_url = self._issue_response_url(workspace.team_id, channel.channel_id, user.user_id)
            form = {
                "token": self.verification_token,
                "team_id": workspace.team_id,
                "team_domain": workspace.domain,
                "channel_id": channel.channel_id,
                "channel_name": "directmessage" if channel.is_im else channel.name,
                "user_id": user.user_id,
                "user_name": user.name,
                "command": command,
                "text": arguments.strip(),
                "api_app_id": self.app_id,
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": self._issue_trigger(workspace.team_id, user.user_id),
            }

        def apply(ack: Any) -> list[str]:
            if not ack:
                return []
            answer = ack if isinstance(ack, dict) else {"text": str(ack)}
            status, error = self._respond(response_url.rsplit("/", 1)[1], answer)
            return [] if status == 200 else [f"the command's answer was refused: {error}"]

        return self._deliver(
            "slash_commands", form, transport=transport, secret=secret, timestamp=timestamp, apply=apply
        )

    def send_action(
        self,
        action_id: str,
        *,
        user_id: str,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        block_id: str | None = None,
        value: Any = None,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        as_seen: Mapping[str, Any] | None = None,
    ) -> Delivery:
        """A person uses the element `action_id` in a message (`channel_id` + `message_ts`, ephemeral
        ones included) or a view (`view_id`, modal or App Home): a `block_actions` payload with a fresh
        trigger_id. `value` is what they chose for selects and pickers; `values` what other inputs
        hold (see `blockkit.state_values`). `LookupError` if the surface shows no such element.
        `as_seen`: the view (`view_id`'s, as Slack showed it earlier) the person's Slack still showed when
        they clicked, an update of it on its way to them: the payload carries that view and its hash."""
        with self._changed:
            user, workspace = self._person(user_id, team_id)
            payload = self._interaction("block_actions", user, workspace)
            blocks, where = self._surface(payload, user, view_id, channel_id, message_ts)
            if as_seen is not None:
                if view_id is None or as_seen.get("id") != view_id:
                    raise ValueError("as_seen is an earlier state of the view `view_id`")
                payload["view"] = copy.deepcopy(dict(as_seen))
                blocks = payload["view"]["blocks"]
            block, element = blockkit.find_element(blocks, action_id, block_id)
            state = {"values": blockkit.state_values(blocks, values)}
            if "view" in payload:
                payload["view"]["state"] = state
            else:
                channel_id, ephemeral = where
                payload["state"] = state
                payload["response_url"] = self._issue_response_url(
                    workspace.team_id, channel_id, user.user_id, message_ts, ephemeral
                )
            action = {"block_id": block["block_id"], "action_ts": _wall_ts()}
            payload["actions"] = [action | blockkit.action_fields(element, value)]
            payload["trigger_id"] = self._issue_trigger(workspace.team_id, user.user_id)
        return self._deliver("interactive", payload, transport=transport, secret=secret, timestamp=timestamp)

    def send_options(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str,
        view_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        block_id: str | None = None,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """A person types `value` into the external select `action_id`: a `block_suggestion` payload.
        `ValueError` if the text is shorter than the element's `min_query_length` (Slack would not ask).
        The options the bot answers are checked against Slack's limits (`Delivery.problems`)."""
        with self._changed:
            user, workspace = self._person(user_id, team_id)
            payload = self._interaction("block_suggestion", user, workspace)
            blocks, _ = self._surface(payload, user, view_id, channel_id, message_ts)
            block, element = blockkit.find_element(blocks, action_id, block_id)
            if element.get("type") not in ("external_select", "multi_external_select"):
                raise ValueError(f"{action_id!r} is a {element.get('type')}, not an external select")
            if len(value) < int(element.get("min_query_length", 3)):
                raise ValueError(f"Slack asks for options only from {element.get('min_query_length', 3)} characters")
            payload |= {"action_id": action_id, "block_id": block["block_id"], "value": value}

        def apply(ack: Any) -> list[str]:
            if ack is None:
                return ["no options in the answer"]
            return blockkit.check_options(ack)

        return self._deliver(
            "interactive", payload, transport=transport, secret=secret, timestamp=timestamp, apply=apply
        )

    def _interaction(self, kind: str, user: User, workspace: Workspace) -> dict[str, Any]:
        """The fields every interactivity payload starts with."""
        return {
            "type": kind,
            "user": _user_ref(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "team": {"id": workspace.team_id, "domain": workspace.domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _surface(
        self,
        payload: dict[str, Any],
        user: User,
        view_id: str | None,
        channel_id: str | None,
        message_ts: str | None,
    ) -> tuple[list[dict[str, Any]], tuple[str, bool]]:
        """The blocks a person acts on, a view or a message (one only they see, too), after adding the
        payload fields Slack sends for that place; with the message's channel and whether it is ephemeral."""
        if view_id is not None:
            view = copy.deepcopy(self._views[view_id].view)
            payload |= {"container": {"type": "view", "view_id": view_id}, "view": view}
            return view["blocks"], ("", False)
        if channel_id is None or message_ts is None:
            raise ValueError("say where the element is: view_id, or channel_id and message_ts")
        channel = self._channels[self._resolve_channel_id(channel_id, user.team_id)]
        message, ephemeral = self._shown_message(channel.channel_id, message_ts, user.user_id)
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel.channel_id,
            "is_ephemeral": ephemeral,
        }
        payload["channel"] = {"id": channel.channel_id, "name": "directmessage" if channel.is_im else channel.name}
        if not ephemeral:
            payload["message"] = copy.deepcopy(message)
        return message.get("blocks") or [], (channel.channel_id, ephemeral)


def _user_ref(user: User) -> dict[str, Any]:
    return {"id": user.user_id, "username": user.name, "name": user.name, "team_id": user.team_id}
