"""Resolves the session cookie and enforces CSRF on every unsafe dashboard request.

CSRF tokens are HMACs bound to the session token (or, before sign-in, to a random pre-session
cookie), so they rotate whenever the session does and need no storage. A POST, PUT, PATCH or
DELETE must carry the token in ``X-CSRF-Token`` or, for plain HTML forms, in a ``csrf_token``
field; otherwise it is refused with 403 before any handler runs. Routes opt out only by being
listed in ``CSRF_EXEMPT`` with a reason. The inference API never reaches this middleware.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xerotier.accounts import sessions
from xerotier.security.tokens import keyed, new_token
from xerotier.web import cookies
from xerotier.web.auth_state import AuthState

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# path -> reason. Keep this empty unless a route cannot carry a token (e.g. a provider callback).
CSRF_EXEMPT: dict[str, str] = {}
SKIP_PREFIXES = ("/static/",)
SKIP_PATHS = frozenset({"/healthz", "/readyz"})  # exact: a future /readyz/… route is still guarded
MAX_FORM_BYTES = 1024 * 1024


def csrf_token_for(key: bytes, *, session_token: str | None, presession: str | None) -> str:
    if session_token:
        return keyed(key, "session", session_token)
    return keyed(key, "presession", presession or "")


class SessionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions_factory: async_sessionmaker[AsyncSession],
        csrf_key: bytes,
        clock: Callable[[], datetime],
        router: Router | None = None,
    ) -> None:
        self.app = app
        self.router = router
        self.sessions_factory = sessions_factory
        self.csrf_key = csrf_key
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in SKIP_PATHS or scope["path"].startswith(SKIP_PREFIXES):
            await self.app(scope, receive, send)
            return
        raw_cookie = next((v for k, v in scope["headers"] if k == b"cookie"), None)
        jar = cookies.parse(raw_cookie)
        state = AuthState()
        token = jar.get(cookies.SESSION)
        if token:
            async with self.sessions_factory() as db, db.begin():
                active = await sessions.load(db, token=token, now=self.clock())
            if active is None:
                token = None
                state.cookies.append(cookies.clear(cookies.SESSION))
            else:
                state.user, state.session = active.user, active.session
        elif cookies.present(raw_cookie, cookies.SESSION):
            state.cookies.append(cookies.clear(cookies.SESSION))  # malformed: drop it
        presession = jar.get(cookies.PRESESSION)
        if token is None and not presession:
            presession = new_token()
            state.cookies.append(cookies.header(cookies.PRESESSION, presession))
        state.csrf_token = csrf_token_for(self.csrf_key, session_token=token, presession=presession)
        scope.setdefault("state", {})["auth"] = state

        if scope["method"] in UNSAFE_METHODS and scope["path"] not in CSRF_EXEMPT and self._routed(scope):
            checked = await _check_csrf(scope, receive, state.csrf_token)
            if checked is None:
                await _refuse(scope, send, state)
                return
            receive = checked

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start" and state.cookies:
                message["headers"] = [
                    *message.get("headers", []),
                    *((b"set-cookie", c) for c in state.cookies),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cookies)

    def _routed(self, scope: Scope) -> bool:
        """Every route is protected; a path no route serves is left to answer 404."""
        if self.router is None:
            return True
        return any(route.matches(scope)[0] is not Match.NONE for route in self.router.routes)


async def _check_csrf(scope: Scope, receive: Receive, expected: str) -> Receive | None:
    """A ``receive`` replaying the body when the token is right, else None."""
    headers = dict(scope["headers"])
    sent = headers.get(b"x-csrf-token")
    if sent is not None:
        return receive if hmac.compare_digest(sent, expected.encode()) else None
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type != b"application/x-www-form-urlencoded":
        return None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get("more_body", False):
            break
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get("csrf_token", [])
    if len(values) != 1 or not hmac.compare_digest(values[0].encode(), expected.encode()):
        return None
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, state: AuthState) -> None:
    message = "CSRF token missing or invalid. Reload the page and try again."
    accept = dict(scope["headers"]).get(b"accept", b"")
    if scope["path"].startswith("/api/") or b"text/html" not in accept:
        body = orjson.dumps(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "code": "csrf_failed",
                    "param": None,
                }
            }
        )
        content_type = b"application/json"
    else:
        body = (
            b"<!doctype html><meta charset=utf-8><title>Request refused</title><h1>Request refused</h1><p>"
            + message.encode()
            + b'</p><p><a href="/">Back</a></p>'
        )
        content_type = b"text/html; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += [(b"set-cookie", c) for c in state.cookies]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
