"""Every provider disconnects the same way: our link to the organisation is removed at the package, the log-in
itself is revoked only when no other connection of ours shares it, and disconnecting twice is harmless."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from providers.base import NeedsReconnect
from tests.providers.conftest import Env


@pytest.mark.package_has("removes_link_on_disconnect")
@pytest.mark.parametrize("knows_connection_id", [True, False], ids=["with-connection-id", "looked-up"])
def test_disconnect_removes_the_organisation(make_env: Callable[..., Env], knows_connection_id: bool) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"))
    grant, link, _ = env.connect([env.organisations[0]])
    if not knows_connection_id:
        link = replace(link, connection_id=None)

    env.provider.disconnect(link, login_shared=False)

    assert link.organisation_id not in env.driver.connected()
    with pytest.raises(NeedsReconnect):
        env.provider.accounts(link)
    if env.driver.revokes_on_disconnect:
        assert env.driver.oauth.revoked == [grant.tokens.refresh_token]
        with pytest.raises(NeedsReconnect):
            env.provider.refresh(grant.tokens)
    else:
        assert env.driver.oauth.revoked == []
    env.provider.disconnect(link, login_shared=False)  # already gone: nothing to do


@pytest.mark.package_has("chooses_several")
@pytest.mark.parametrize("knows_connection_id", [True, False], ids=["with-connection-id", "looked-up"])
def test_a_shared_log_in_is_left_alone(make_env: Callable[..., Env], knows_connection_id: bool) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"))
    grant, link, keeper = env.connect()
    other = next(o for o in env.provider.organisations(grant) if o.id != link.organisation_id)
    if not knows_connection_id:
        link = replace(link, connection_id=None)

    env.provider.disconnect(link, login_shared=True)

    assert env.driver.connected() == {other.id} and env.driver.oauth.revoked == []
    env.provider.disconnect(link, login_shared=True)  # already gone: nothing to do
    assert env.provider.accounts(replace(link, organisation_id=other.id, connection_id=other.connection_id))
    assert env.provider.refresh(keeper.tokens).refresh_token
