"""MYOB Business (AccountRight): its client, error table, pacing, pure mappers, time reading and settings
(`MYOB_...`)."""

from providers.myob.client import MyobProvider
from providers.myob.errors import ERRORS, error_from_response, translate_error, translate_oauth_error
from providers.myob.mappers import (
    TYPE_LABELS,
    account_kind,
    account_type_label,
    is_postable,
    read_customer_cards,
    to_account,
    to_address,
    to_customer,
)
from providers.myob.pacing import SecondPacer
from providers.myob.settings import DEFAULT_SCOPES, MyobSettings
from providers.myob.times import changed_since_filter, myob_time, parse_myob_time

__all__ = [
    "DEFAULT_SCOPES",
    "ERRORS",
    "TYPE_LABELS",
    "MyobProvider",
    "MyobSettings",
    "SecondPacer",
    "account_kind",
    "account_type_label",
    "changed_since_filter",
    "error_from_response",
    "is_postable",
    "myob_time",
    "parse_myob_time",
    "read_customer_cards",
    "to_account",
    "to_address",
    "to_customer",
    "translate_error",
    "translate_oauth_error",
]
