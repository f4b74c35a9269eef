"""What the session middleware learned about a request, available to handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from xerotier.accounts.models import User, UserSession


@dataclass(slots=True)
class AuthState:
    user: User | None = None
    session: UserSession | None = None
    csrf_token: str = ""
    # Set-Cookie headers the middleware adds to the response (pre-session cookie, clearing a dead one).
    cookies: list[bytes] = field(default_factory=list)

    @property
    def signed_in(self) -> bool:
        return self.user is not None


def auth_of(request: Request) -> AuthState:
    state: AuthState = request.scope["state"]["auth"]
    return state
