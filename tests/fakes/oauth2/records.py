"""What an OAuth2 server keeps: the apps registered at it, the user who logs in, what a consent grants, and the
private records of pending consents, authorization codes and refresh tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClientApp:
    """An app registered at a fake; `client_secret` is None for a public app, which proves itself with PKCE."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    name: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, name={self.name!r})"


@dataclass(frozen=True)
class User:
    """The one person logged in at the fake's consent page."""

    user_id: str
    name: str
    email: str


@dataclass(frozen=True)
class ConsentOption:
    """One thing the consent page offers to connect (an organisation, a company file, a company)."""

    value: str
    label: str
    checked: bool = True


@dataclass(frozen=True)
class Consent:
    """What the user allowed on the consent page; the package's fake turns it into an `Authorisation`."""

    client: ClientApp
    user: User
    scope: str
    chosen: tuple[str, ...]  # the options' values, in the order the page listed them


@dataclass(frozen=True)
class Authorisation:
    """What a consent grants, as the package's fake words it: claims every access token of this log-in
    carries (refreshes included), claims of the OpenID id token, and parameters the callback gets
    (Xero's `scope` and `session_state`, MYOB's `businessId`, QuickBooks' `realmId`)."""

    claims: Mapping[str, Any] = field(default_factory=dict)
    id_claims: Mapping[str, Any] = field(default_factory=dict)
    callback: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _PendingConsent:
    id: str
    client: ClientApp
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str | None


@dataclass(frozen=True)
class _Grant:
    """Who authorised what: shared by a code and every refresh token descending from it."""

    client_id: str
    user_id: str
    scope: str
    authorisation: Authorisation


@dataclass
class _AuthCode:
    grant: _Grant
    redirect_uri: str
    code_challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class _RefreshToken:
    value: str
    family: str
    grant: _Grant
    issued_at: float
    spent_at: float | None = None
    successor: dict[str, Any] | None = None  # the token response handed out when it was spent
    revoked: bool = False
