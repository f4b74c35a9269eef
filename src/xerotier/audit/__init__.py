"""Audit trail of security events."""
