"""Telegram: python-telegram-bot as transport only; keyq's engine owns the conversation."""
