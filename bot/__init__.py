"""The Slack app: listeners, views, services, web routes, jobs, settings and the CLI."""
