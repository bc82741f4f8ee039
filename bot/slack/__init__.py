"""The Slack side: the Bolt app, its listeners, App Home, the import reporter, the manifest and direct messages."""
