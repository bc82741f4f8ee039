"""The Slack fake's Web API methods, one module per family as Slack groups them: auth, team and users;
conversations; chat; views; files."""
