"""Persistence: the schema, the database, encryption, and the store the engine talks to."""
