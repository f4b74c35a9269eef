"""Open-redirect protection: after sign-in we only go to local paths."""

from __future__ import annotations

DEFAULT = "/projects"


def safe_next(value: str | None) -> str:
    """``value`` if it is a plain local path, else the default. Refuses ``//host``, ``/\\host``,
    schemes, control characters and anything not starting with a single slash."""
    if not value or len(value) > 2000:
        return DEFAULT
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or ":" in value.split("?", 1)[0]:
        return DEFAULT
    return value
