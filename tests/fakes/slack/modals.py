"""A person submitting or closing a modal, and what Slack does with the bot's answer: close, update, push,
clear, or show errors next to inputs."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.fakes import blockkit
from tests.fakes.slack.interactions import Interactions
from tests.fakes.slack.limits import MAX_VIEW_STACK
from tests.fakes.slack.records import Delivery, Transport, User, Workspace, _ViewRecord


class Modals(Interactions):
    def send_view_submission(
        self,
        view: str | Mapping[str, Any],
        values: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """The person looking at an open modal (a view id, or the view dict) presses its submit button
        with `values` entered (`{block_id: {action_id: choice}}`, see `blockkit.state_values`).
        `ValueError` when Slack's client would not submit (a required input left empty).
        The bot's answer is applied: no `response_action` closes the view; `update`, `push`, `clear`
        and `errors` do what they do in Slack."""
        view_id = view if isinstance(view, str) else str(view["id"])
        with self._changed:
            record = self._views[view_id]
            if view_id not in self._stacks.get((record.team_id, record.user_id), []):
                raise LookupError(f"view {view_id} is not open, so it cannot be submitted")
            if record.view.get("submit") is None:
                raise ValueError(f"view {view_id} has no submit button")
            blocks = record.view["blocks"]
            state = blockkit.state_values(blocks, values)
            unfilled = blockkit.unfilled_inputs(blocks, state)
            if unfilled:
                raise ValueError(f"Slack would not submit this view: {unfilled}")
            user, workspace = self._person(record.user_id, record.team_id)
            submitted = copy.deepcopy(record.view) | {"state": {"values": state}}
            payload = self._interaction("view_submission", user, workspace) | {
                "trigger_id": self._issue_trigger(workspace.team_id, user.user_id),
                "view": submitted,
                "response_urls": self._view_response_urls(workspace, user, blocks, state),
            }

        def apply(ack: Any) -> list[str]:
            return self._apply_view_answer(record, ack)

        return self._deliver(
            "interactive", payload, transport=transport, secret=secret, timestamp=timestamp, apply=apply
        )

    def close_view(
        self,
        view: str | Mapping[str, Any],
        *,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery | None:
        """The person presses a modal's close button: it leaves the stack (the whole stack with
        `clear_on_close`); a `view_closed` payload is delivered only if the view has `notify_on_close`."""
        view_id = view if isinstance(view, str) else str(view["id"])
        with self._changed:
            record = self._views[view_id]
            key = (record.team_id, record.user_id)
            stack = self._stacks.get(key, [])
            if view_id not in stack:
                raise LookupError(f"view {view_id} is not open")
            cleared = bool(record.view.get("clear_on_close"))
            if cleared:
                stack.clear()
            else:
                stack.remove(view_id)
            self._changed.notify_all()
            if not record.view.get("notify_on_close"):
                return None
            user, workspace = self._person(record.user_id, record.team_id)
            payload = self._interaction("view_closed", user, workspace) | {
                "view": copy.deepcopy(record.view),
                "is_cleared": cleared,
            }
        return self._deliver("interactive", payload, transport=transport, secret=secret, timestamp=timestamp)

    def _apply_view_answer(self, record: _ViewRecord, ack: Any) -> list[str]:
        key = (record.team_id, record.user_id)
        stack = self._stacks.setdefault(key, [])
        action = ack.get("response_action") if isinstance(ack, dict) else None
        if action is None:
            if record.view["id"] in stack:
                stack.remove(record.view["id"])
            return []
        if action == "clear":
            stack.clear()
            return []
        if action == "errors":
            inputs = {b.get("block_id") for b in record.view["blocks"] if b.get("type") == "input"}
            errors = ack.get("errors")
            if not isinstance(errors, dict) or not errors:
                return ["response_action errors needs an `errors` object"]
            return [f"errors name block {b!r}, which is not an input block" for b in errors if b not in inputs]
        if action in ("update", "push"):
            view = ack.get("view")
            problems = blockkit.check_view(view, pointer="/view")
            if problems:
                return problems
            assert isinstance(view, dict)
            if view.get("type") != "modal":
                return ["[ERROR] must be a modal view [json-pointer:/view/type]"]
            if action == "update":
                self._replace_view(record, view)
                return []
            if len(stack) >= MAX_VIEW_STACK:
                return ["push_limit_reached"]
            workspace = self._workspaces[record.team_id]
            pushed = self._new_view(workspace, record.user_id, view, root_view_id=stack[0], previous_view_id=stack[-1])
            stack.append(pushed.view["id"])
            return []
        return [f"unknown response_action {action!r}"]

    def _view_response_urls(
        self, workspace: Workspace, user: User, blocks: list[dict[str, Any]], state: dict[str, Any]
    ) -> list[dict[str, Any]]:
        urls = []
        for block, element in blockkit.iter_elements(blocks):
            if block.get("type") != "input" or not element.get("response_url_enabled"):
                continue
            entry = state.get(block["block_id"], {}).get(element["action_id"], {})
            channel_id = entry.get("selected_conversation") or entry.get("selected_channel")
            if channel_id:
                urls.append(
                    {
                        "block_id": block["block_id"],
                        "action_id": element["action_id"],
                        "channel_id": channel_id,
                        "response_url": self._issue_response_url(workspace.team_id, channel_id, user.user_id),
                    }
                )
        return urls
