"""Every provider turns its package's error answers into the same few typed errors, with a message for a person:
each kind of error answer, transient failures retried a little and then given up, and "slow down" raised at once
with the wait the package asked for."""

from __future__ import annotations

import pytest

from providers.base import RateLimited, RateLimitScope, Unavailable
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.server import free_port
from tests.providers.conftest import Env
from tests.providers.packages import Failure, Resource


@pytest.mark.package_cases("errors", "failure")
def test_each_error_answer_becomes_its_typed_error(env: Env, failure: Failure) -> None:
    case = env.driver.errors[failure]
    _, link, _ = env.connect()
    env.driver.fail_next(Resource.CUSTOMERS, case.status, case.body, times=5, headers=case.headers)

    with pytest.raises(case.error) as caught:
        list(env.provider.customers(link))

    assert type(caught.value) is case.error
    assert case.words in caught.value.message and caught.value.format_message().startswith(caught.value.message)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_errors_are_retried_then_unavailable(env: Env, status: int) -> None:
    _, link, _ = env.connect()
    env.driver.fail_next(Resource.ACCOUNTS, status, times=10)

    with pytest.raises(Unavailable) as caught:
        env.provider.accounts(link)

    calls = env.driver.calls(Resource.ACCOUNTS)
    assert len(calls) > 1 and {c.status for c in calls} == {status}
    assert len(env.clock.slept) == len(calls) - 1  # a wait before each retry, on the injected clock
    assert f"HTTP {status}" in caught.value.message


def test_a_transient_error_then_success(env: Env) -> None:
    _, link, _ = env.connect()
    env.driver.fail_next(Resource.ACCOUNTS, 503)

    assert env.provider.accounts(link)
    assert [c.status for c in env.driver.calls(Resource.ACCOUNTS)] == [503, 200]


def test_a_refresh_is_retried_after_a_transient_failure(env: Env) -> None:
    grant, _, _ = env.connect()
    env.clock.advance(env.driver.refresh_token_kept_for)
    env.driver.fail_next(Resource.TOKEN, 503)

    tokens = env.provider.refresh(grant.tokens)

    assert tokens.refresh_token != grant.tokens.refresh_token
    assert [c.status for c in env.driver.calls(Resource.TOKEN)][-2:] == [503, 200]


@pytest.mark.package_cases("rate_limits", "scope")
def test_slow_down_raises_rate_limited_with_the_wait_at_once(env: Env, scope: RateLimitScope) -> None:
    case = env.driver.rate_limits[scope]
    _, link, _ = env.connect()
    env.driver.fail_next(Resource.CUSTOMERS, case.status, case.body, headers=case.headers)

    with pytest.raises(RateLimited) as caught:
        list(env.provider.customers(link))

    assert (caught.value.retry_after, caught.value.scope) == (case.retry_after, scope)
    assert env.clock.slept == [] and len(env.driver.calls(Resource.CUSTOMERS)) == 1


def test_no_answer_at_all_is_retried_then_unavailable(env: Env) -> None:
    _, link, _ = env.connect()
    if env.transport is None:
        nowhere = env.make_provider_at(f"http://127.0.0.1:{free_port()}")
    else:
        closed = ASGISyncTransport(env.driver.app)
        closed.close()
        nowhere = env.make_provider_at(env.url, transport=closed)

    with pytest.raises(Unavailable, match="did not answer"):
        nowhere.accounts(link)

    assert len(env.clock.slept) >= 1 and env.driver.calls(Resource.ACCOUNTS) == []


def test_timeouts_are_retried_then_unavailable(env: Env) -> None:
    _, link, _ = env.connect()
    impatient = env.make_provider(timeout=0.2)
    env.driver.slow_down(1.0)  # the package holds each call longer than we wait

    with pytest.raises(Unavailable, match="ReadTimeout"):
        impatient.accounts(link)

    # each attempt reached the package (noted there as it arrives: over HTTP maybe after we gave up waiting)
    tries = len(env.clock.slept) + 1
    assert len(env.driver.wait_for_calls(Resource.ACCOUNTS, tries)) == tries > 1
