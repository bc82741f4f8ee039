"""MYOB's log-in service (secure.myob.com) as the shared OAuth2 server plays it: its endpoints, the granular
`sme-*` scopes and their wording, 20-minute access tokens, a refresh token with every token answer (rotated on each
refresh, the spent one refused at once), no PKCE, client credentials in the form, and a consent page where the user
picks one company file."""

from __future__ import annotations

from tests.fakes.oauth2 import ClientAuth, ConsentChoice, OAuth2Profile

KNOWN_SCOPES = frozenset(
    "CompanyFile sme-company-file sme-general-ledger sme-contacts-customer sme-contacts-supplier sme-sales "
    "sme-purchases sme-banking sme-inventory sme-reports".split()
)
SCOPE_WORDING = {
    "sme-company-file": "See your company file's details",
    "sme-general-ledger": "View your accounts and tax codes",
    "sme-contacts-customer": "View your customer cards",
    "sme-sales": "Create and view your sales invoices and customer payments",
    "CompanyFile": "Access your company file",
}
RESOURCE_SCOPES = {  # what each resource needs (old keys' CompanyFile scope reaches everything)
    "generalledger": ("sme-general-ledger", "CompanyFile"),
    "contact": ("sme-contacts-customer", "CompanyFile"),
    "sale": ("sme-sales", "CompanyFile"),
    "company": ("sme-company-file", "CompanyFile"),
}
CODE_LIFETIME = 600.0
ACCESS_TOKEN_TTL = 1200

MYOB_OAUTH = OAuth2Profile(
    title="MYOB",
    authorize_path="/oauth2/account/authorize",
    token_path="/oauth2/v1/authorize",
    issuer="https://secure.myob.com",
    audience="https://api.myob.com",
    client_auth=frozenset({ClientAuth.POST}),
    pkce=False,
    known_scopes=KNOWN_SCOPES,
    scope_wording=SCOPE_WORDING,
    choice=ConsentChoice(field="business", noun="company file", plural="company files", multiple=False),
    code_lifetime=CODE_LIFETIME,
    access_token_ttl=ACCESS_TOKEN_TTL,
    refresh_token_lifetime=365 * 24 * 3600.0,  # consent is asked again yearly (second-hand)
    grace_period=0.0,
    offline_scope=None,  # every token answer carries a refresh token
    invalid_refresh_error="invalid_request",
)
