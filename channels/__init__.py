"""Channels: one subpackage per platform, each only translating between it and the engine."""
