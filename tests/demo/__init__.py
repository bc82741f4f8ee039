"""`./dev demo` (`python -m tests.demo`): the bot, the Slack fake and every accounting package's fake wired together
on free ports with a throwaway database, and a playground page in the browser standing in for Slack."""
