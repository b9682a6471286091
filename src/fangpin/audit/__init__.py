"""Audit: the tamper-evident chains over append-only records, and replay of stored decisions."""
