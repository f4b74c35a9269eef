"""Projects, members, endpoints and API keys."""
