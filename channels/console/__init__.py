"""The terminal channel: choices as numbered lines, for trying keyq and scripting it."""
