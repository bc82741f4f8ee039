"""Accounting packages behind one small interface, found by name through a registry."""
