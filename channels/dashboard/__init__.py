"""The admin dashboard: the protected report, trends, reminders, the action plan, codes."""
