"""Invoices and payments raised from Slack, for packages that offer invoicing (`providers.invoicing`)."""
