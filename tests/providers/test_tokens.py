"""Every provider keeps a connection alive the same way: refresh rotates the refresh token (the spent one works
only for the package's grace period), a 401 in the middle of a call refreshes exactly once, and a log-in the
package no longer accepts (`invalid_grant`) means reconnecting."""

from __future__ import annotations

import pytest

from providers.base import NeedsReconnect, Tokens
from tests.providers.conftest import Env
from tests.providers.packages import Resource


def test_refresh_rotates_the_refresh_token(env: Env) -> None:
    grant, _, _ = env.connect()
    first = grant.tokens
    kept_for = env.driver.refresh_token_kept_for  # QuickBooks hands back the same refresh token for a day

    env.clock.advance(kept_for)
    second = env.provider.refresh(first)
    env.clock.advance(max(env.driver.grace_period, kept_for) + 1)
    third = env.provider.refresh(second)

    assert first.refresh_token and second.refresh_token and third.refresh_token
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert len({first.access_token, second.access_token, third.access_token}) == 3
    with pytest.raises(NeedsReconnect):  # spent, and its grace period over
        env.provider.refresh(first)
    assert env.driver.refreshes_spent() == 2


@pytest.mark.package_has("refresh_token_kept_for")
def test_a_refresh_within_a_day_keeps_the_refresh_token(env: Env) -> None:
    grant, _, _ = env.connect()
    env.clock.advance(env.driver.refresh_token_kept_for - 60)

    again = env.provider.refresh(grant.tokens)

    assert again.refresh_token == grant.tokens.refresh_token and again.access_token != grant.tokens.access_token
    env.clock.advance(120)
    rotated = env.provider.refresh(again)
    assert rotated.refresh_token != grant.tokens.refresh_token
    with pytest.raises(NeedsReconnect):  # once a new one is issued, the old one is dead
        env.provider.refresh(grant.tokens)


@pytest.mark.package_has("grace_period")
def test_a_lost_answer_is_replayed_within_the_grace_period(env: Env) -> None:
    grant, _, _ = env.connect()
    second = env.provider.refresh(grant.tokens)
    env.clock.advance(env.driver.grace_period - 1)

    replayed = env.provider.refresh(grant.tokens)

    assert (replayed.access_token, replayed.refresh_token) == (second.access_token, second.refresh_token)
    assert env.driver.oauth.refreshes_spent[grant.tokens.refresh_token or ""] == 2


def test_a_refresh_token_the_package_does_not_know_needs_reconnect(env: Env) -> None:
    with pytest.raises(NeedsReconnect) as caught:
        env.provider.refresh(Tokens(access_token="x", refresh_token="not-one-of-ours", expires_at=None))

    assert env.driver.reconnect_words in caught.value.message
    assert "/accounts connect" in caught.value.format_message()


def test_no_refresh_token_needs_reconnect(env: Env) -> None:
    with pytest.raises(NeedsReconnect):
        env.provider.refresh(Tokens(access_token="x", refresh_token=None, expires_at=None))
    assert env.driver.calls(Resource.TOKEN) == []


@pytest.mark.parametrize("how", ["token expired", "401 once"])
def test_a_401_mid_call_refreshes_once_and_retries(env: Env, how: str) -> None:
    _, link, keeper = env.connect()
    if how == "token expired":
        env.clock.advance(env.driver.access_token_ttl + 1)
    else:
        env.driver.fail_next(Resource.ACCOUNTS, 401)

    accounts = env.provider.accounts(link)

    assert accounts and keeper.refreshes == 1 and env.driver.refreshes_spent() == 1
    assert [c.status for c in env.driver.calls(Resource.ACCOUNTS)] == [401, 200]


def test_a_second_401_needs_reconnect(env: Env) -> None:
    _, link, keeper = env.connect()
    env.driver.fail_next(Resource.ACCOUNTS, 401, times=2)

    with pytest.raises(NeedsReconnect):
        env.provider.accounts(link)

    assert keeper.refreshes == 1 and env.driver.refreshes_spent() == 1
    assert [c.status for c in env.driver.calls(Resource.ACCOUNTS)] == [401, 401]


def test_invalid_grant_during_a_call_needs_reconnect(env: Env) -> None:
    _, link, keeper = env.connect()
    env.driver.fail_next(Resource.ACCOUNTS, 401)
    env.driver.fail_next(Resource.TOKEN, 400, {"error": "invalid_grant"})

    with pytest.raises(NeedsReconnect):
        env.provider.accounts(link)

    assert keeper.refreshes == 0 and len(env.driver.calls(Resource.ACCOUNTS)) == 1
