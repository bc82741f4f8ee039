"""The web side: Slack's HTTP endpoints, the accounting packages' OAuth callbacks and the health check."""
