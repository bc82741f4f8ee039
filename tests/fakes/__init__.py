"""Faithful local fakes of the external services: real HTTP servers on 127.0.0.1."""
