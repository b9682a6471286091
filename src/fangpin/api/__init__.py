"""The HTTP API (FastAPI): routes parse a request, call one service, and answer; errors are problem+json."""
