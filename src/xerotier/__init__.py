"""Xerotier: a self-hostable, multi-tenant, OpenAI-compatible inference gateway."""

__version__ = "0.1.0"
