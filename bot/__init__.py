"""keyq's channel-agnostic engine: events in, replies out, state through storage."""
