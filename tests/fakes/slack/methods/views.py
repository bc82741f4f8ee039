"""The views.* methods: open and push modals with a trigger id, update them, publish App Home; views are
checked against Block Kit's limits and the modal stack's depth."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes import blockkit
from tests.fakes.slack.limits import MAX_VIEW_STACK, TRIGGER_LIFETIME
from tests.fakes.slack.records import SlackRefusal, _ApiRequest, _Trigger, _ViewRecord
from tests.fakes.slack.web_api import WebApi


class ViewMethods(WebApi):
    def _view_arg(self, request: _ApiRequest, *, kind: str, view_id: str | None = None) -> dict[str, Any]:
        """The `view` argument, refused as Slack refuses it (`invalid_arguments` with Slack's messages)."""
        view = request.args.get("view")
        if not isinstance(view, dict):
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] missing required field: view"])
        problems = blockkit.check_view(view, pointer="/view")
        if not problems and view.get("type") != kind:
            problems = [f"[ERROR] must be a {kind} view [json-pointer:/view/type]"]
        if problems:
            raise SlackRefusal("invalid_arguments", messages=problems)
        external_id = view.get("external_id")
        if external_id and any(
            r.team_id == request.ws.team_id and r.view.get("external_id") == external_id and r.view["id"] != view_id
            for r in self._views.values()
        ):
            raise SlackRefusal("duplicate_external_id")
        return view

    def _exchange_trigger(self, request: _ApiRequest) -> _Trigger:
        trigger_id = str(request.args.get("trigger_id") or request.args.get("interactivity_pointer") or "")
        trigger = self._triggers.get(trigger_id)
        if trigger is None or trigger.team_id != request.ws.team_id:
            raise SlackRefusal("invalid_trigger_id")
        if trigger.exchanged:
            raise SlackRefusal("exchanged_trigger_id")
        if self.clock() - trigger.issued > TRIGGER_LIFETIME:
            raise SlackRefusal("expired_trigger_id")
        trigger.exchanged = True
        return trigger

    def _views_open(self, request: _ApiRequest) -> dict[str, Any]:
        view = self._view_arg(request, kind="modal")
        trigger = self._exchange_trigger(request)
        record = self._new_view(request.ws, trigger.user_id, view, root_view_id=None, previous_view_id=None)
        self._stacks[(trigger.team_id, trigger.user_id)] = [record.view["id"]]
        return {"view": copy.deepcopy(record.view)}

    def _views_push(self, request: _ApiRequest) -> dict[str, Any]:
        view = self._view_arg(request, kind="modal")
        trigger = self._exchange_trigger(request)
        stack = self._stacks.get((trigger.team_id, trigger.user_id))
        if not stack:
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] no modal is open to push onto"])
        if len(stack) >= MAX_VIEW_STACK:
            raise SlackRefusal("push_limit_reached")
        record = self._new_view(request.ws, trigger.user_id, view, root_view_id=stack[0], previous_view_id=stack[-1])
        stack.append(record.view["id"])
        return {"view": copy.deepcopy(record.view)}

    def _views_update(self, request: _ApiRequest) -> dict[str, Any]:
        view_id, external_id = request.args.get("view_id"), request.args.get("external_id")
        if not view_id and not external_id:
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] view_id or external_id is required"])
        record = self._live_view(request.ws.team_id, view_id, external_id)
        view = self._view_arg(request, kind=record.view["type"], view_id=record.view["id"])
        given_hash = request.args.get("hash")
        if given_hash and given_hash != record.view["hash"]:
            raise SlackRefusal("hash_conflict")
        self._replace_view(record, view)
        return {"view": copy.deepcopy(record.view)}

    def _views_publish(self, request: _ApiRequest) -> dict[str, Any]:
        user_id = str(request.args.get("user_id", ""))
        if (request.ws.team_id, user_id) not in self._users:
            raise SlackRefusal("invalid_arguments", messages=["invalid `user_id`"])
        key = (request.ws.team_id, user_id)
        view_id = self._homes.get(key)
        view = self._view_arg(request, kind="home", view_id=view_id)
        if view_id is None:
            record = self._new_view(request.ws, user_id, view, root_view_id=None, previous_view_id=None)
            self._homes[key] = record.view["id"]
        else:
            record = self._views[view_id]
            given_hash = request.args.get("hash")
            if given_hash and given_hash != record.view["hash"]:
                raise SlackRefusal("hash_conflict")
            self._replace_view(record, view)
        return {"view": copy.deepcopy(record.view)}

    def _live_view(self, team_id: str, view_id: Any, external_id: Any) -> _ViewRecord:
        """A view that is open or published; closed modals cannot be updated."""
        open_ids = {v for stack in self._stacks.values() for v in stack} | set(self._homes.values())
        for record in self._views.values():
            matches = record.view["id"] == view_id if view_id else record.view.get("external_id") == external_id
            if matches and record.team_id == team_id and record.view["id"] in open_ids:
                return record
        raise SlackRefusal("not_found")
