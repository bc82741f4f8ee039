"""Every provider logs a person in the same way: the authorisation URL (client, redirect, scopes, state, PKCE), the
code exchange (a wrong verifier or a spent code refused) and the organisations the log-in reaches, the one just
authorised first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from providers.base import NeedsReconnect
from tests.fakes.oauth2 import s256
from tests.providers.conftest import Env
from tests.providers.packages import Resource

CHALLENGE = s256("a-verifier-of-the-test-at-least-forty-three-characters-long")


def test_authorization_url_carries_client_redirect_scopes_and_state(env: Env) -> None:
    check_authorization_url(env, challenge=None)


@pytest.mark.package_has("pkce")
def test_authorization_url_carries_a_pkce_challenge(env: Env) -> None:
    check_authorization_url(env, challenge=CHALLENGE)


def check_authorization_url(env: Env, *, challenge: str | None) -> None:
    url = env.provider.authorization_url(state="abc123", redirect_uri=env.driver.redirect_uri, code_challenge=challenge)

    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{env.url}{env.driver.authorize_path}"
    assert query["client_id"] == env.client.client_id
    assert query["redirect_uri"] == env.driver.redirect_uri
    assert query["response_type"] == "code"
    assert query["state"] == "abc123"
    assert query["scope"].split() == env.driver.scopes.split()
    if challenge:
        assert (query["code_challenge"], query["code_challenge_method"]) == (challenge, "S256")
    else:
        assert "code_challenge" not in query and "code_challenge_method" not in query


def test_code_exchange_gives_tokens_and_the_callbacks_extras(env: Env) -> None:
    log_in = env.log_in()

    grant = env.exchange(log_in)

    tokens = grant.tokens
    assert tokens.access_token and tokens.refresh_token and tokens.expires_at
    lifetime = timedelta(seconds=env.driver.access_token_ttl)
    assert datetime.now(UTC) + lifetime - timedelta(minutes=1) < tokens.expires_at <= datetime.now(UTC) + lifetime
    assert set(grant.extra) >= env.driver.grant_extra_keys
    assert [c.status for c in env.driver.calls(Resource.TOKEN)] == [200]


@pytest.mark.parametrize("mistake", ["code used twice", "other redirect uri"])
def test_code_exchange_refused(env: Env, mistake: str) -> None:
    check_exchange_refused(env, mistake)


@pytest.mark.package_has("pkce")
@pytest.mark.parametrize("mistake", ["wrong verifier", "no verifier"])
def test_code_exchange_refused_without_the_right_verifier(env: Env, mistake: str) -> None:
    check_exchange_refused(env, mistake)


def check_exchange_refused(env: Env, mistake: str) -> None:
    log_in = env.log_in()
    changes: dict[str, object] = {}
    if mistake == "wrong verifier":
        changes["code_verifier"] = "another-verifier-entirely-of-forty-three-characters-or-more"
    elif mistake == "no verifier":
        changes["code_verifier"] = None
    elif mistake == "code used twice":
        env.exchange(log_in)
    else:
        changes["redirect_uri"] = "http://localhost:3000/elsewhere"

    with pytest.raises(NeedsReconnect) as caught:
        env.exchange(log_in, **changes)

    assert env.driver.reconnect_words in caught.value.message
    assert "/accounts connect" in caught.value.format_message()


@pytest.mark.parametrize(("earlier", "now"), [([0], [2]), ([2], [0])], ids=["one-after-one", "first-after-last"])
def test_organisations_put_the_just_authorised_first(
    make_env: Callable[..., Env], earlier: list[int], now: list[int]
) -> None:
    check_just_authorised_first(make_env, earlier, now)


@pytest.mark.package_has("chooses_several")
@pytest.mark.parametrize(
    ("earlier", "now"),
    [([0, 1], [2]), ([0], [1, 2]), ([], [0, 1, 2])],
    ids=["one-after-two", "two-after-one", "three-at-once"],
)
def test_several_organisations_put_the_just_authorised_first(
    make_env: Callable[..., Env], earlier: list[int], now: list[int]
) -> None:
    check_just_authorised_first(make_env, earlier, now)


def check_just_authorised_first(make_env: Callable[..., Env], earlier: list[int], now: list[int]) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd", "Charlie Ltd"))
    ids = env.organisations
    if earlier:
        env.connect([ids[i] for i in earlier])

    grant = env.exchange(env.log_in([ids[i] for i in now]))
    organisations = env.provider.organisations(grant)

    reached = {ids[i] for i in (earlier + now if env.driver.lists_earlier_organisations else now)}
    assert {o.id for o in organisations} == reached
    assert sorted(o.id for o in organisations[: len(now)]) == sorted(ids[i] for i in now)
    assert all(o.just_authorised for o in organisations[: len(now)])
    assert not any(o.just_authorised for o in organisations[len(now) :])
    names = {o.id: o.name for o in organisations}
    assert [names[ids[i]] for i in now] == [("Alpha Ltd", "Bravo Ltd", "Charlie Ltd")[i] for i in now]
    assert all(o.connection_id == env.driver.connection_id(o.id) for o in organisations)
    assert all(o.kind == env.driver.organisation_kind for o in organisations)
