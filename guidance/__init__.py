"""Guidance: tips from the building blocks, ranked for the question, the asker and the data."""
