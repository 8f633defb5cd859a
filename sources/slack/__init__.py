"""The Slack source: users, channels and messages, read with slack-sdk's WebClient."""
