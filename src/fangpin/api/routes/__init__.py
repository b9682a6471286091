"""One router per resource: checks, claims, decisions, fund."""
