"""Disclosure reminders year-round: schedules, waves, an outbox, and paced sending."""
