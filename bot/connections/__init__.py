"""Connections to accounting packages: the connect flow, the token keeper, and their upkeep in the background."""
