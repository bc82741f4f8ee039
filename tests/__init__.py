"""accounts-bot tests: fakes of Slack and the accounting packages, and the suite that drives the bot through them."""
