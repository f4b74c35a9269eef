"""Password rules after NIST SP 800-63B-4 §3.1.1.2 and OWASP ASVS 5.0 V6.2.

At least 12 characters, up to 1024 accepted (never truncated), no composition rules, and a
block-list: the 20,000 most common passwords (shipped with the package, see
``data/LICENSE.common-passwords``), the same with digits or symbols appended, one repeated
character or short pattern, and passwords built around the user's own email.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib import resources

MIN_LENGTH = 12
MAX_LENGTH = 1024
_SUFFIX = re.compile(r"[\W\d_]+$")


class WeakPasswordError(ValueError):
    """The password breaks a rule; the message says which, in words for the user."""


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    raw = resources.files("xerotier.security").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(
        line.strip().lower() for line in gzip.decompress(raw).decode().splitlines() if line.strip()
    )


def _is_repetitive(value: str) -> bool:
    for size in range(1, len(value) // 2 + 1):
        if len(value) % size == 0 and value[:size] * (len(value) // size) == value:
            return True
    return False


def check(password: str, *, email: str | None = None) -> None:
    """Raise :class:`WeakPasswordError` when the password must be refused."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    base = _SUFFIX.sub("", lowered)
    if lowered in _common() or (base and base in _common()):
        raise WeakPasswordError("This password is too common; choose one that is harder to guess.")
    if _is_repetitive(lowered):
        raise WeakPasswordError("This password is a repeated pattern; choose one that is harder to guess.")
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4 and local in lowered and len(lowered) - len(local) < MIN_LENGTH:
            raise WeakPasswordError("This password is too close to your email address.")
    if "xerotier" in lowered and len(lowered.replace("xerotier", "")) < 8:
        raise WeakPasswordError("This password is too close to the product name.")
