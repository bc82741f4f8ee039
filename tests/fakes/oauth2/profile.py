"""What differs between packages' OAuth2 servers, written down once per package: where the endpoints are, how an
app authenticates, whether PKCE is accepted, how long codes and tokens live, which scopes exist and how the
consent page words them, and what the user chooses there."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class ClientAuth(StrEnum):
    """How an app proves itself at the token and revocation endpoints."""

    BASIC = "client_secret_basic"  # HTTP Basic with the client id and secret
    POST = "client_secret_post"  # client_id and client_secret in the form body


class RevocationBody(StrEnum):
    FORM = "form"  # token=... as a form (Xero)
    JSON = "json"  # {"token": ...} (QuickBooks)


@dataclass(frozen=True)
class ConsentChoice:
    """What the consent page lets the user choose: several organisations (Xero, check boxes) or one company file
    or company (MYOB, QuickBooks: radio buttons). `field` is the form field the choice is posted in; `needed_for`
    says whether the requested scopes need a choice at all (Xero lets an app ask only for `openid`)."""

    field: str = "organisation"
    noun: str = "organisation"
    plural: str = "organisations"
    multiple: bool = True
    needed_for: Callable[[Sequence[str]], bool] | None = None  # None: always

    def needed(self, scopes: Sequence[str]) -> bool:
        return self.needed_for is None or self.needed_for(scopes)

    @property
    def missing(self) -> str:
        return f"Select at least one {self.noun}." if self.multiple else f"Select a {self.noun}."


@dataclass(frozen=True)
class OAuth2Profile:
    """One package's OAuth2 server. Lifetimes are seconds; a fake replaces them (`dataclasses.replace`) for a
    test that wants a short grace period."""

    title: str  # "Xero": on the consent and error pages
    authorize_path: str
    token_path: str
    revocation_path: str | None = None  # None: the package has no revocation endpoint
    issuer: str = "https://identity.fake"  # the tokens' `iss`
    audience: str = "https://api.fake"  # the access tokens' `aud`
    client_auth: frozenset[ClientAuth] = frozenset({ClientAuth.BASIC, ClientAuth.POST})
    pkce: bool = True  # S256 challenges accepted; a public app (no secret) must send one
    revocation_body: RevocationBody = RevocationBody.FORM
    known_scopes: frozenset[str] | None = None  # None: any scope is accepted
    scope_wording: Mapping[str, str] = field(default_factory=dict)  # what the consent page says each scope allows
    choice: ConsentChoice = field(default_factory=ConsentChoice)
    code_lifetime: float = 300.0
    access_token_ttl: float = 1800.0
    refresh_token_lifetime: float = 60 * 24 * 3600.0  # counted from issue; unused tokens die after it
    grace_period: float = 0.0  # a spent refresh token answers with the same new pair for this long
    # A refresh this soon after the refresh token was issued brings a new access token but the same refresh token
    # (QuickBooks: about a day); once a new one is issued, the old one is spent. 0: every refresh rotates it.
    refresh_token_kept_for: float = 0.0
    offline_scope: str | None = "offline_access"  # a refresh token only with this scope; None: always
    invalid_refresh_error: str = "invalid_grant"  # what a dead refresh token gets (MYOB: invalid_request, said)
    refresh_expires_in_field: str | None = None  # QuickBooks: "x_refresh_token_expires_in"
