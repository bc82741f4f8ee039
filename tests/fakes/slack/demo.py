"""The demo workspace `python -m tests.fakes.slack` serves: an owner, a member, a channel the bot is in and one
it is not in."""

from __future__ import annotations

from tests.fakes.slack.fake import SlackFake

DEMO_TEAM = "T0DEMO0001"
DEMO_BOT_TOKEN = "xoxb-demo-0000000000-fake"
DEMO_APP_TOKEN = "xapp-1-demo-0000000000-fake"


def demo(url: str) -> SlackFake:
    """The fake with one workspace: an owner, a member, a channel the bot is in and one it is not in."""
    fake = SlackFake(url=url, signing_secret="demo-signing-secret")
    fake.add_workspace(DEMO_TEAM, "Demo Workspace", DEMO_BOT_TOKEN, DEMO_APP_TOKEN)
    fake.add_user(DEMO_TEAM, "U0DEMOOWNER", "owner", is_primary_owner=True)
    fake.add_user(DEMO_TEAM, "U0DEMOMEMBR", "member")
    fake.add_channel(DEMO_TEAM, "C0DEMOGENRL", "general")
    fake.add_channel(DEMO_TEAM, "C0DEMORANDM", "random", bot_member=False)
    return fake
