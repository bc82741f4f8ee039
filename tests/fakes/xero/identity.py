"""Xero's identity service as the shared OAuth2 server plays it: its endpoints, scopes and their wording on the
consent page, token lifetimes (30-minute access tokens, 60-day refresh tokens rotated with a 30-minute grace
period), and a consent page where the user ticks organisations. What a consent connects is in `connections`."""

from __future__ import annotations

from collections.abc import Sequence

from tests.fakes.oauth2 import ClientAuth, ConsentChoice, OAuth2Profile

KNOWN_SCOPES = frozenset(
    "openid profile email offline_access accounting.settings accounting.settings.read "
    "accounting.contacts accounting.contacts.read accounting.transactions accounting.transactions.read "
    "accounting.reports.read accounting.journals.read accounting.attachments accounting.attachments.read "
    "accounting.budgets.read".split()
)
SCOPE_WORDING = {
    "offline_access": "Keep access while you are not using the app",
    "accounting.settings.read": "View your business settings, such as the chart of accounts",
    "accounting.settings": "View and manage your business settings",
    "accounting.contacts.read": "View your contacts",
    "accounting.contacts": "View and manage your contacts",
    "accounting.transactions.read": "View your business transactions",
    "accounting.transactions": "View and manage your business transactions, such as invoices and payments",
    "openid": "Confirm who you are",
    "profile": "View your name",
    "email": "View your email address",
}
CODE_LIFETIME = 300.0
REFRESH_TOKEN_LIFETIME = 60 * 24 * 3600.0


def _needs_an_organisation(scopes: Sequence[str]) -> bool:
    """Only the accounting scopes reach an organisation; `openid profile email` alone logs in without one."""
    return any(s.startswith("accounting.") for s in scopes)


XERO_IDENTITY = OAuth2Profile(
    title="Xero",
    authorize_path="/identity/connect/authorize",
    token_path="/connect/token",
    revocation_path="/connect/revocation",
    issuer="https://identity.xero.com",
    audience="https://identity.xero.com/resources",
    client_auth=frozenset({ClientAuth.BASIC, ClientAuth.POST}),
    pkce=True,
    known_scopes=KNOWN_SCOPES,
    scope_wording=SCOPE_WORDING,
    choice=ConsentChoice(
        field="tenant",
        noun="organisation",
        plural="organisations",
        multiple=True,
        needed_for=_needs_an_organisation,
    ),
    code_lifetime=CODE_LIFETIME,
    access_token_ttl=1800,
    refresh_token_lifetime=REFRESH_TOKEN_LIFETIME,
    grace_period=1800,
)
