"""Intuit's OAuth2 server as the shared fake plays it: its endpoints (authorize at the App Center, tokens and
revocation at Intuit's hosts, all on the fake's one host here), HTTP Basic client authentication, no PKCE, JSON
revocation bodies, hour-long access tokens, refresh tokens kept for about a day and then rotated (the old one then
dies), their `x_refresh_token_expires_in`, and a consent page where the user picks one company."""

from __future__ import annotations

from tests.fakes.oauth2 import ClientAuth, ConsentChoice, OAuth2Profile, RevocationBody

AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
DISCOVERY_PATH = "/.well-known/openid_configuration"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
KNOWN_SCOPES = frozenset(
    {ACCOUNTING_SCOPE, "com.intuit.quickbooks.payment", "openid", "profile", "email", "phone", "address"}
)
SCOPE_WORDING = {
    ACCOUNTING_SCOPE: "Read and change the company's accounting data",
    "com.intuit.quickbooks.payment": "Process payments",
    "openid": "Confirm who you are",
    "profile": "View your name",
    "email": "View your email address",
}
REFRESH_TOKEN_LIFETIME = 100 * 24 * 3600.0  # x_refresh_token_expires_in: about 100 days
REFRESH_TOKEN_KEPT_FOR = 24 * 3600.0  # a refresh within a day brings back the same refresh token
HARD_LIFETIME = 5 * 365 * 24 * 3600.0  # no refresh token outlives its log-in by more than 5 years (since late 2025)

INTUIT_OAUTH = OAuth2Profile(
    title="Intuit",
    authorize_path=AUTHORIZE_PATH,
    token_path=TOKEN_PATH,
    revocation_path=REVOKE_PATH,
    issuer="https://oauth.platform.intuit.com/op/v1",
    audience="https://quickbooks.api.intuit.com",
    client_auth=frozenset({ClientAuth.BASIC}),
    pkce=False,
    revocation_body=RevocationBody.JSON,
    known_scopes=KNOWN_SCOPES,
    scope_wording=SCOPE_WORDING,
    choice=ConsentChoice(
        field="realm", noun="company", plural="companies", multiple=False, needed_for=lambda s: ACCOUNTING_SCOPE in s
    ),
    code_lifetime=300.0,
    access_token_ttl=3600.0,
    refresh_token_lifetime=REFRESH_TOKEN_LIFETIME,
    refresh_token_kept_for=REFRESH_TOKEN_KEPT_FOR,
    grace_period=0.0,
    offline_scope=None,
    refresh_expires_in_field="x_refresh_token_expires_in",
)


def discovery_document(base: str) -> dict[str, object]:
    """Intuit's OpenID discovery document, naming the endpoints at `base` (the fake's URL)."""
    return {
        "issuer": INTUIT_OAUTH.issuer,
        "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
        "token_endpoint": f"{base}{TOKEN_PATH}",
        "userinfo_endpoint": f"{base}{USERINFO_PATH}",
        "revocation_endpoint": f"{base}{REVOKE_PATH}",
        "jwks_uri": f"{base}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": sorted(KNOWN_SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }
