"""The web channel: one step a page, for people with neither Slack nor Telegram."""
