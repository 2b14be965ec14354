"""The key question, its answer options, their grouping, and every survey message, as data."""
