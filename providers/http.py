"""The authorised call every provider makes, written once: the keeper's bearer token, one refresh on 401,
short retries with jitter for transient failures, the package's pacing, and its errors translated.

A provider builds one `AuthorisedClient` around an `httpx2.Client` (see `http_client`) and hands it its own
error table (`translate`) and pacer; the caller decides what to do with the typed errors it raises.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from providers.at_once import AtOnce, LocalSlots
from providers.base import (
    CallBudget,
    CallLimit,
    ProviderError,
    RateLimited,
    RateLimitScope,
    TokenKeeper,
    Unavailable,
)
from providers.json_bodies import read_json

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


class Pacer(Protocol):
    """A package's pacing under its rate limits, per organisation: wait `before()` a call, learn `after()` it.

    `before()` returns a ticket for the call (or None), handed back to `after()`, which is told of every call that
    went: with the answer's headers, or with none when no answer came (the request may still have arrived)."""

    def before(self, organisation_id: str) -> object: ...

    def after(self, organisation_id: str, headers: Mapping[str, str], ticket: object = None) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` extra attempts after a transient failure, waiting `backoff` seconds doubling each time, plus
    up to `backoff` of random jitter so that many callers do not come back at the same instant."""

    retries: int = 2
    backoff: float = 0.5
    max_wait: float = 10.0

    def retrying(
        self, *, sleep: Callable[[float], None], on: type[BaseException] | tuple[type[BaseException], ...]
    ) -> Retrying:
        """A tenacity loop retrying the exceptions `on`, then re-raising the last one."""
        return Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff, max=self.max_wait) + wait_random(0, self.backoff),
            retry=retry_if_exception_type(on),
            sleep=sleep,
            before_sleep=_log_retry,
            reraise=True,
        )


class Transient(Exception):
    """A failure worth another attempt: an answer with a 5xx status, or none at all."""

    def __init__(self, reason: str, *, response: httpx2.Response | None = None, error: Exception | None = None):
        super().__init__(reason)
        self.reason, self.response, self.error = reason, response, error


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.info("%s; retrying in %.2fs", error if isinstance(error, Transient) else type(error).__name__, wait)


class BorrowedTransport(httpx2.BaseTransport):
    """Lends a transport that someone else owns (a test's fake) to clients that close theirs when done."""

    def __init__(self, transport: httpx2.BaseTransport) -> None:
        self._transport = transport

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self._transport.handle_request(request)

    def close(self) -> None:
        pass  # the owner closes it


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context: the system's certificate authorities as httpx2 loads them, read once.

    httpx2 reads them again for every client made without one (26 ms of CPU each, measured), and the bot makes
    clients often: a provider per use, an OAuth client per log-in link and token exchange, one per CSV upload.
    An `SSLContext` is safe to share between clients and threads. Only HTTP/1.1 clients share it (all of ours):
    httpcore2 sets the protocols offered (ALPN) on the context at each connection, so a client made with
    `http2=True` would need a context of its own."""
    return httpx2.create_ssl_context()


def http_client(
    *, timeout: float, transport: httpx2.BaseTransport | None = None, headers: Mapping[str, str] | None = None
) -> httpx2.Client:
    """An httpx2 client over `transport` (a test's fake, in-process) or the network when None."""
    return httpx2.Client(
        timeout=timeout,
        headers=dict(headers or {}),
        transport=BorrowedTransport(transport) if transport is not None else None,
        verify=tls_context(),
    )


class _NoPacing:
    def before(self, organisation_id: str) -> None:
        pass

    def after(self, organisation_id: str, headers: Mapping[str, str], ticket: object = None) -> None:
        pass


class AuthorisedClient:
    """Authorised calls to one package's API with a token keeper's bearer token."""

    def __init__(
        self,
        http: httpx2.Client,
        *,
        title: str,
        translate: Callable[[httpx2.Response], ProviderError],
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        pacer: Pacer | None = None,
        limits: tuple[CallLimit, ...] = (),
    ) -> None:
        """`limits`: the package's limits that a `CallBudget` handed in with a call shares between processes."""
        self.http = http
        self._title, self._translate, self._retry, self._sleep = title, translate, retry, sleep
        self._pacer: Pacer = pacer if pacer is not None else _NoPacing()
        self._limits = limits
        self._local_slots = LocalSlots()  # calls at once, when no budget shares them between processes

    def send(
        self,
        method: str,
        url: str,
        *,
        keeper: TokenKeeper,
        organisation_id: str | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        allow: frozenset[int] = frozenset(),
        budget: CallBudget | None = None,
    ) -> httpx2.Response:
        """One call, paced under `organisation_id`'s limits when given. A 401 asks the keeper for a refreshed
        token once; 5xx answers and network failures are retried a few times; a success or a status in
        `allow` is returned, anything else raised as the package's typed error. `content` is a body already
        encoded (`json_bytes`), sent as JSON. With a `budget`, each attempt is first counted under the package's
        shared limits, and RateLimited is raised (nothing sent) when one of them is spent for now, except a limit
        that `paces`, waited for here (the pacer then stands aside); the remaining-calls headers of each answer
        are told to the budget."""
        shared = None
        pacer = self._pacer
        if budget is not None:
            shared = _Shared(budget, self._limits, organisation_id, self._title, self._sleep)
            pacer = _NoPacing() if shared.paces_organisation else pacer
        at_once = AtOnce(budget if budget is not None else self._local_slots, self._limits, organisation_id)
        call = _Call(
            self.http,
            pacer,
            method,
            url,
            keeper=keeper,
            organisation_id=organisation_id,
            shared=shared,
            at_once=at_once,
        )
        request = {"params": params, "headers": headers, "json": json, "content": content}
        try:
            for attempt in self._retry.retrying(sleep=self._sleep, on=Transient):
                with attempt:
                    response = call.answer(request, allow)
        except Transient as exc:
            if exc.response is not None:
                raise self._translate(exc.response) from None
            name = type(exc.error).__name__
            raise Unavailable(f"{self._title} did not answer ({name}).", detail=str(exc.error)) from exc.error
        if response.is_success or response.status_code in allow:
            return response
        raise self._translate(response)

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """`send()`, then the answer's JSON; an unreadable answer is Unavailable."""
        response = self.send(method, url, **kwargs)
        try:
            return read_json(response.content)
        except ValueError:
            message = f"{self._title} answered with something we could not read."
            raise Unavailable(message, status=response.status_code) from None

    def close(self) -> None:
        self.http.close()


class _Shared:
    """The package's limits shared through a budget, for one call's organisation."""

    def __init__(
        self,
        budget: CallBudget,
        limits: tuple[CallLimit, ...],
        organisation_id: str | None,
        title: str,
        sleep: Callable[[float], None],
    ) -> None:
        self.budget, self.title, self.sleep = budget, title, sleep
        counted = [
            (limit, limit.counter(organisation_id))
            for limit in limits
            if limit.scope != RateLimitScope.CONCURRENT  # held while in flight (`AtOnce`), not counted
            and (limit.scope == RateLimitScope.APP or organisation_id is not None)
        ]
        # The limits waited for come first, so that a call waiting its organisation's turn has not yet been
        # counted under the app's limit meanwhile.
        self.limits = sorted(counted, key=lambda pair: not pair[0].paces)

    @property
    def paces_organisation(self) -> bool:
        """Whether the organisation's calls are paced here, by every process together (the package's pacer,
        which sees one process's calls, then stands aside, so that a call is never held back twice)."""
        return any(limit.paces for limit, _ in self.limits)

    def take(self) -> None:
        """Count the call under each limit in turn (all at once: `CallBudget.take_all`), waiting for one that paces
        until it has room, and raising RateLimited for one that does not pace."""
        pending = self.limits
        while pending:
            counted, wait = self.budget.take_all([(counter, limit.calls, limit.per) for limit, counter in pending])
            pending = pending[counted:]
            if not pending:
                return
            limit = pending[0][0]
            if not limit.paces:
                raise RateLimited(
                    f"{self.title} calls are at their limit for now ({limit.scope}); resuming in {wait:.0f} s.",
                    retry_after=wait,
                    scope=limit.scope,
                )
            log.info("pacing %s calls: waiting %.1fs for the %s limit", self.title, wait, limit.scope)
            self.sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        for limit, counter in self.limits:
            value = headers.get(limit.remaining_header) if limit.remaining_header else None
            if value is not None and value.strip().isdigit():
                self.budget.observe(counter, remaining=int(value), calls=limit.calls, per=limit.per)


class _Call:
    """The state of one `send()` across its attempts: the token in use, and whether it was refreshed."""

    def __init__(
        self,
        http: httpx2.Client,
        pacer: Pacer,
        method: str,
        url: str,
        *,
        keeper: TokenKeeper,
        organisation_id: str | None,
        shared: _Shared | None = None,
        at_once: AtOnce | None = None,
    ) -> None:
        self.http, self.pacer, self.method, self.url = http, pacer, method, url
        self.keeper, self.organisation_id, self.shared, self.at_once = keeper, organisation_id, shared, at_once
        self.token = keeper.access_token()
        self.refreshed = False

    def answer(self, request: Mapping[str, Any], allow: frozenset[int]) -> httpx2.Response:
        """One attempt: the answer, after at most one refresh; raises Transient for what is worth retrying."""
        response = self._once(request)
        if response.status_code == 401 and not self.refreshed and 401 not in allow:
            self.token, self.refreshed = self.keeper.refreshed_access_token(self.token), True
            response = self._once(request)
        if response.status_code in RETRYABLE_STATUSES and response.status_code not in allow:
            raise Transient(f"HTTP {response.status_code} from {self.method} {_path(self.url)}", response=response)
        return response

    def _once(self, request: Mapping[str, Any]) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.token}", **(request["headers"] or {})}
        if request["content"] is not None:
            headers.setdefault("Content-Type", "application/json")
        held = self.at_once.enter() if self.at_once is not None else []
        answer: Mapping[str, str] = {}
        try:
            # Counted and paced once a slot of the calls at once is ours, so that the time counted is when the call
            # goes. The slot waits with it only for a turn that the organisation's other calls wait for as well.
            if self.shared is not None:
                self.shared.take()
            ticket = self.pacer.before(self.organisation_id) if self.organisation_id else None
            try:
                response = self.http.request(
                    self.method,
                    self.url,
                    params=request["params"],
                    headers=headers,
                    json=request["json"],
                    content=request["content"],
                )
                answer = response.headers
            except httpx2.TransportError as exc:
                raise Transient(f"{type(exc).__name__} from {self.method} {_path(self.url)}", error=exc) from exc
            finally:
                if self.organisation_id:
                    self.pacer.after(self.organisation_id, answer, ticket)
        finally:
            if self.at_once is not None:
                self.at_once.leave(held)
        if self.shared is not None:
            self.shared.observe(response.headers)
        log.debug("%s %s -> %s", self.method, _path(self.url), response.status_code)
        return response


def _path(url: str) -> str:
    return httpx2.URL(url).path
