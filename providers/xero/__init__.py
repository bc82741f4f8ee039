"""Xero: its client, error table, pacing, pure mappers and settings (`XERO_...`)."""

from providers.xero.client import XeroProvider
from providers.xero.errors import ERRORS, RATE_LIMIT_SCOPES, error_from_response, translate_error, translate_oauth_error
from providers.xero.mappers import (
    TYPE_LABELS,
    account_kind,
    account_type_label,
    jwt_claims,
    parse_xero_date,
    read_contacts,
    to_account,
    to_address,
    to_customer,
    to_phone,
)
from providers.xero.pacing import MinutePacer
from providers.xero.settings import DEFAULT_SCOPES, XeroSettings

__all__ = [
    "DEFAULT_SCOPES",
    "ERRORS",
    "RATE_LIMIT_SCOPES",
    "TYPE_LABELS",
    "MinutePacer",
    "XeroProvider",
    "XeroSettings",
    "account_kind",
    "account_type_label",
    "error_from_response",
    "jwt_claims",
    "parse_xero_date",
    "read_contacts",
    "to_account",
    "to_address",
    "to_customer",
    "to_phone",
    "translate_error",
    "translate_oauth_error",
]
