"""The console's routers, one per part of the office's work."""
