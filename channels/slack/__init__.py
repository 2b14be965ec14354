"""Slack: slack-bolt's AsyncApp as transport only; keyq's engine owns the conversation."""
