"""QuickBooks Online: its client, error table, pacing, pure mappers and settings (`QUICKBOOKS_...`)."""

from providers.quickbooks.client import QuickBooksProvider
from providers.quickbooks.errors import ERRORS, error_from_response, read_fault, translate_error, translate_oauth_error
from providers.quickbooks.mappers import (
    TYPE_LABELS,
    account_kind,
    account_type_label,
    is_job,
    parse_time,
    read_accounts,
    read_customers_page,
    to_account,
    to_customer,
)
from providers.quickbooks.pacing import MinutePacer
from providers.quickbooks.settings import DEFAULT_SCOPES, QuickBooksSettings

__all__ = [
    "DEFAULT_SCOPES",
    "ERRORS",
    "TYPE_LABELS",
    "MinutePacer",
    "QuickBooksProvider",
    "QuickBooksSettings",
    "account_kind",
    "account_type_label",
    "error_from_response",
    "is_job",
    "parse_time",
    "read_accounts",
    "read_customers_page",
    "read_fault",
    "to_account",
    "to_customer",
    "translate_error",
    "translate_oauth_error",
]
