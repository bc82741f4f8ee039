"""Bolt's `App` with two pieces of Bolt's own per-request work made cheaper, what it hands on unchanged.

On every request Bolt built a new `WebClient` for the context (reading the proxy variables from the environment and
the user agent again), and, for each listener it tried and the one it ran, built every argument any listener could
ask for (the payload read eight ways, `say`, `respond`, `complete`, ...) to pass the one or four it asks for: most
of what dispatching a command cost past our own work. Here the context's client is a copy of the app's, set as Bolt
sets its own (its token, the request's team, its own retry handlers: authorisation may set its token), and a
listener or matcher asking only for arguments in `ARGUMENTS` is given those alone; any other is called as Bolt
calls it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, MutableSequence
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.listener import CustomListener
from slack_bolt.listener_matcher import ListenerMatcher
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from slack_bolt.logger import get_bolt_app_logger
from slack_bolt.request.payload_utils import (
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)

Argument = Callable[[CustomListener, BoltRequest, BoltResponse], Any]

# The value of each argument as Bolt's `build_required_kwargs` gives it to a listener.
ARGUMENTS: dict[str, Argument] = {
    "logger": lambda listener, req, resp: listener.logger,
    "client": lambda listener, req, resp: req.context.client,
    "req": lambda listener, req, resp: req,
    "request": lambda listener, req, resp: req,
    "resp": lambda listener, req, resp: resp,
    "response": lambda listener, req, resp: resp,
    "context": lambda listener, req, resp: req.context,
    "body": lambda listener, req, resp: req.body,
    "options": lambda listener, req, resp: to_options(req.body),
    "shortcut": lambda listener, req, resp: to_shortcut(req.body),
    "action": lambda listener, req, resp: to_action(req.body),
    "view": lambda listener, req, resp: to_view(req.body),
    "command": lambda listener, req, resp: to_command(req.body),
    "event": lambda listener, req, resp: to_event(req.body),
    "message": lambda listener, req, resp: to_message(req.body),
    "step": lambda listener, req, resp: to_step(req.body),
    "ack": lambda listener, req, resp: req.context.ack,
    "say": lambda listener, req, resp: req.context.say,
    "respond": lambda listener, req, resp: req.context.respond,
}


class BotApp(App):
    def _init_context(self, req: BoltRequest) -> None:
        """Bolt's own (`App._init_context`), with the app's client copied rather than a new one built."""
        req.context["logger"] = get_bolt_app_logger(app_name=self.name, base_logger=self._base_logger)
        req.context["token"] = self._token
        client = copy.copy(self._client)
        client.token = self._token
        client.default_params = {} if req.context.team_id is None else {"team_id": req.context.team_id}
        client.retry_handlers = list(self._client.retry_handlers)
        req.context["client"] = client
        req.context["listener_runner"] = self.listener_runner

    def lean_listeners(self) -> None:
        """Give the listeners registered so far only the arguments they ask for; call once they all are."""
        self._listeners = [_lean(listener) for listener in self._listeners]


class BodyMatcher(ListenerMatcher):
    """Bolt's built-in matcher (`BuiltinListenerMatcher`) for a function of the body alone, called with it."""

    def __init__(self, func: Callable[..., bool]) -> None:
        self.func = func

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        return self.func(body=req.body)


class LeanListener(CustomListener):
    """A Bolt listener whose function asks only for arguments in `ARGUMENTS`, given those alone."""

    def run_ack_function(self, *, request: BoltRequest, response: BoltResponse) -> BoltResponse | None:
        return self.ack_function(**{name: ARGUMENTS[name](self, request, response) for name in self.arg_names})


def _lean(listener: Any) -> Any:
    if type(listener) is not CustomListener:
        return listener
    matchers = [_lean_matcher(m) for m in listener.matchers]
    if not _plain(listener.arg_names):
        listener.matchers = matchers
        return listener
    lean = LeanListener.__new__(LeanListener)
    lean.__dict__.update(listener.__dict__)
    lean.matchers = matchers
    return lean


def _lean_matcher(matcher: ListenerMatcher) -> ListenerMatcher:
    if type(matcher) is BuiltinListenerMatcher and matcher.arg_names == ["body"]:
        return BodyMatcher(matcher.func)  # type: ignore[arg-type]
    return matcher


def _plain(arg_names: MutableSequence[str]) -> bool:
    """Bolt passes these as named (not `self`, `cls`, `args` or a context value), and `ARGUMENTS` has them all."""
    return all(name in ARGUMENTS for name in arg_names)
