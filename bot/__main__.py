"""``python -m bot`` runs the keyq command."""

from bot.cli import main

main()
