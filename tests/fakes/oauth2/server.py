"""`OAuth2Server`: the consent page, the token endpoint and revocation put together for one package's profile;
a package's fake keeps one, mounts its `routes()` and checks its API calls with `bearer()`."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from starlette.routing import BaseRoute, Route

from tests.fakes.oauth2.consent import ConsentPage
from tests.fakes.oauth2.records import ClientApp
from tests.fakes.oauth2.tokens import Tokens


class OAuth2Server(ConsentPage, Tokens):
    """One package's OAuth2 server (see `tests.fakes.oauth2` for how a fake uses it)."""

    def routes(self) -> list[BaseRoute]:
        """The endpoints at the profile's paths; a fake adds them to its own router."""
        profile = self.profile
        routes: list[BaseRoute] = [
            Route(profile.authorize_path, self.authorize, methods=["GET", "POST"]),
            Route(profile.token_path, self.token, methods=["POST"]),
        ]
        if profile.revocation_path:
            routes.append(Route(profile.revocation_path, self.revocation, methods=["POST"]))
        return routes

    def register_client(
        self,
        *,
        redirect_uris: Iterable[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        public: bool = False,
        name: str = "accounts-bot",
    ) -> ClientApp:
        """Register an app; `public=True` makes one without a secret, which must use PKCE."""
        if public and not self.profile.pkce:
            raise ValueError(f"{self.profile.title} has no PKCE, so no app without a secret")
        client = ClientApp(
            client_id=client_id or secrets.token_hex(16).upper(),
            client_secret=None if public else (client_secret or secrets.token_urlsafe(36)),
            redirect_uris=tuple(redirect_uris),
            name=name,
        )
        with self._lock:
            self._clients[client.client_id] = client
        return client

    def client(self, client_id: str) -> ClientApp:
        with self._lock:
            try:
                return self._clients[client_id]
            except KeyError:
                raise KeyError(f"no app {client_id} registered at this fake") from None
