"""Customers: matching a package's records to ours, and listing, searching and exporting them."""
