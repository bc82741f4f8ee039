"""An OAuth2 server's state (its package's profile, the apps, codes and tokens it issued, what it counted) and
the hooks through which the package's fake says what a consent offers and grants."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable

from starlette.responses import JSONResponse, Response

from tests.fakes.oauth2.profile import OAuth2Profile
from tests.fakes.oauth2.records import (
    Authorisation,
    ClientApp,
    Consent,
    ConsentOption,
    User,
    _AuthCode,
    _PendingConsent,
    _RefreshToken,
)


class OAuth2Hooks:
    """What a package's fake tells its OAuth2 server. Subclass it (a fake's state class can) and override what
    the package does differently; all but `unauthorized` are called with the server's lock held."""

    def consent_options(self, client: ClientApp) -> list[ConsentOption]:
        """What the consent page offers to connect, in the order it lists them."""
        return []

    def authorise(self, consent: Consent) -> Authorisation:
        """The user allowed `consent`: connect what they chose; say what the tokens and the callback carry."""
        return Authorisation()

    def refusal(self, consent: Consent) -> str | None:
        """Why the package refuses what the user chose (MYOB: only a file's administrator may consent), said on the
        consent page again; None to allow it."""
        return None

    def log_in_revoked(self, client: ClientApp, user_id: str) -> None:
        """A refresh token of `user_id`'s log-in to `client` was revoked."""

    def grant_revoked(self, client: ClientApp, authorisation: Authorisation) -> None:
        """A refresh token of the log-in that `authorisation` granted was revoked (QuickBooks: its company is
        disconnected, whatever else the same user connected)."""

    def unauthorized(self, *, expired_at: float | None) -> Response:
        """The answer to an API call whose bearer token is missing or forged (`expired_at` None) or expired."""
        return JSONResponse(
            {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )


class OAuth2State:
    """What every part of `OAuth2Server` works on, guarded by one lock (the fake's own, when it hands it in, so
    that a consent and the connections it makes change together)."""

    def __init__(
        self,
        profile: OAuth2Profile,
        *,
        user: User,
        hooks: OAuth2Hooks | None = None,
        clock: Callable[[], float] = time.time,
        lock: threading.RLock | None = None,
    ) -> None:
        self.profile = profile
        self.user = user
        self.hooks = hooks or OAuth2Hooks()
        self.clock = clock
        self._lock = lock or threading.RLock()
        self._signing_key = secrets.token_bytes(32)
        self._clients: dict[str, ClientApp] = {}
        self._pending: dict[str, _PendingConsent] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._issued_access: set[str] = set()  # jti of every access token issued
        self.refreshes_spent: Counter[str] = Counter()  # refresh token -> successful refresh grants
        self.revoked: list[str] = []  # refresh tokens revoked at the revocation endpoint
