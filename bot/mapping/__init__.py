"""Mapping the business's categories to account codes: the stored chart of accounts and the saved mapping."""
