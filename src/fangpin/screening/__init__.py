"""Bulk screening: department exports → household facts → decisions for every household at once."""
