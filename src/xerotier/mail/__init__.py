"""Outgoing email: an outbox drained by a background task, with SMTP and console backends."""
