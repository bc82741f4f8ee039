"""Persistence: SQLAlchemy models, sessions, migrations and queries. Knows nothing of Slack or providers."""
