"""An in-process Xerotier for HTTP-level dashboard tests: a clock we move, mail we read, browsers.

The app is the real ``create_app`` (gateway, middleware chain, dashboard, database) driven over
ASGI with its lifespan running, so every request goes through the same code as in production.
Two collaborators are swapped through the public seams of ``create_app``: the clock (sessions,
email tokens) and the mail transport (``ConsoleTransport`` keeps what it "sent").
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp

from tests.support.processes import ROOT, clean_env
from xerotier.accounts import service as accounts
from xerotier.accounts import sessions
from xerotier.accounts.models import User, UserSession
from xerotier.app import Runtime
from xerotier.audit.store import CLI_ACTOR, Actor
from xerotier.mail.outbox import ConsoleTransport, Mail
from xerotier.projects import keys as project_keys
from xerotier.projects import members
from xerotier.projects import service as project_service
from xerotier.projects.models import ProjectInvitation
from xerotier.security import passwords
from xerotier.web import cookies

SECRET_KEY = "s" * 40
PUBLIC_URL = "https://testserver"
CLIENT_IP = "203.0.113.7"
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) XerotierTest/1.0"
# A password that passes the policy; each use costs one real Argon2id hash.
PASSWORD = "correct horse battery staple 42"

_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/\S+)")


class FakeClock:
    """The app's clock: ``now`` is timezone-aware UTC and moves only when a test moves it."""

    def __init__(self, start: datetime = START) -> None:
        if start.tzinfo is None or start.utcoffset() != timedelta(0):
            raise ValueError("the fake clock runs on aware UTC datetimes")
        self.now = start
        self._origin = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def monotonic(self) -> float:
        """Seconds on a monotonic scale that follows ``now`` (for limiters keyed on monotonic time)."""
        return 1_000_000.0 + (self.now - self._origin).total_seconds()


def csrf_from(html: str) -> str:
    found = _META.search(html)
    if found is None:
        raise AssertionError('the page has no <meta name="csrf-token">')
    return found.group(1)


def find_dashboard(app: object) -> FastAPI:
    """The FastAPI dashboard inside the ASGI chain ``create_app`` returns, however deep it sits."""
    seen: set[int] = set()
    todo = [app]
    while todo:
        current = todo.pop()
        if isinstance(current, FastAPI):
            return current
        if id(current) in seen:
            continue
        seen.add(id(current))
        for attr in ("app", "fallback"):
            inner = getattr(current, attr, None)
            if inner is not None:
                todo.append(inner)
    raise AssertionError(f"no FastAPI application inside {app!r}")


def link_in(mail: Mail) -> str:
    """The path and query of the first link to this installation in a mail."""
    found = _LINK.search(mail.text)
    if found is None:
        raise AssertionError(f"no link in mail {mail.subject!r}:\n{mail.text}")
    return found.group(1)


def token_in(mail: Mail) -> str:
    return parse_qs(urlsplit(link_in(mail)).query)["token"][0]


@dataclass(frozen=True)
class ProjectWorld:
    id: str  # proj_…
    slug: str
    endpoint: str
    key_id: str  # key_…
    key: str  # the full secret
    member_id: int | None
    invitation_id: int | None


KEEP = object()  # "send the browser's current CSRF token"


@dataclass
class Browser:
    """One user agent: its own cookie jar, address and CSRF token (taken from the last page read)."""

    client: httpx.AsyncClient
    csrf: str = ""

    @property
    def session_cookie(self) -> str | None:
        return _cookie(self.client, cookies.SESSION)

    @property
    def presession_cookie(self) -> str | None:
        return _cookie(self.client, cookies.PRESESSION)

    def set_cookie(self, name: str, value: str) -> None:
        self.client.cookies.set(name, value, domain="testserver.local", path="/")

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """A page, the way a browser asks for it; remembers the page's CSRF token."""
        headers = {"accept": "text/html,application/xhtml+xml", **kwargs.pop("headers", {})}
        response = await self.client.get(path, headers=headers, **kwargs)
        found = (
            _META.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        )
        if found:
            self.csrf = found.group(1)
        return response

    async def load_token(self) -> str:
        """Read a page that renders for anyone (signed in or not) to learn the current token."""
        response = await self.get("/auth/forgot-password")
        assert response.status_code == 200, response.text
        return self.csrf

    async def submit(
        self, path: str, data: Mapping[str, str] | None = None, *, token: Any = KEEP, **kwargs: Any
    ) -> httpx.Response:
        """A plain HTML form POST, the token in the hidden ``csrf_token`` field."""
        fields = dict(data or {})
        if token is KEEP:
            token = self.csrf
        if token is not None:
            fields["csrf_token"] = token
        headers = {"accept": "text/html,application/xhtml+xml", **kwargs.pop("headers", {})}
        return await self.client.post(path, data=fields, headers=headers, **kwargs)

    async def api(
        self, method: str, path: str, *, json: Any = None, token: Any = KEEP, **kwargs: Any
    ) -> httpx.Response:
        """A call from the dashboard's JavaScript: JSON, the token in ``X-CSRF-Token``."""
        headers = {"accept": "application/json", **kwargs.pop("headers", {})}
        if token is KEEP:
            token = self.csrf
        if token is not None:
            headers["x-csrf-token"] = token
        return await self.client.request(method, path, json=json, headers=headers, **kwargs)

    async def is_signed_in(self) -> bool:
        """Ask the JSON API (no redirects involved): 200 signed in, 401 not."""
        response = await self.client.get("/api/account/sessions", headers={"accept": "application/json"})
        assert response.status_code in (200, 401), response.text
        return response.status_code == 200


_HASHES: dict[str, str] = {}


async def _hash_once(password: str) -> str:
    """Argon2id costs a noticeable fraction of a second: users made by the harness share one hash
    per password (a real Argon2id hash: verifying it costs what it costs in production)."""
    if password not in _HASHES:
        _HASHES[password] = await passwords.hash_password(password)
    return _HASHES[password]


def _cookie(client: httpx.AsyncClient, name: str) -> str | None:
    for cookie in client.cookies.jar:
        if cookie.name == name:
            return cookie.value
    return None


@dataclass
class Dashboard:
    app: ASGIApp
    web: FastAPI
    settings: Any
    clock: FakeClock
    mail: ConsoleTransport
    database_url: str | None
    _stack: AsyncExitStack

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.web.state.runtime
        return rt

    # -- browsers ----------------------------------------------------------------------------

    async def browser(
        self,
        *,
        ip: str = CLIENT_IP,
        base_url: str = "https://testserver",
        user_agent: str = USER_AGENT,
        headers: Mapping[str, str] | None = None,
        raise_app_exceptions: bool = True,
    ) -> Browser:
        """A new user agent. ``raise_app_exceptions=False`` answers an unhandled error with a 500,
        as a server would, instead of raising it into the test."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=self.app, client=(ip, 1234), raise_app_exceptions=raise_app_exceptions
            ),
            base_url=base_url,
            headers={"user-agent": user_agent, **(headers or {})},
        )
        await self._stack.enter_async_context(client)
        return Browser(client)

    async def sign_in(
        self, browser: Browser, email: str, password: str = PASSWORD, *, next: str | None = None
    ) -> httpx.Response:
        """The sign-in form, as a person fills it: load the page (token), then POST it."""
        page = await browser.get("/auth/login")
        assert page.status_code == 200, page.text
        fields = {"email": email, "password": password}
        if next is not None:
            fields["next"] = next
        return await browser.submit("/auth/login", fields)

    async def signed_in(self, email: str, password: str = PASSWORD, **browser_options: Any) -> Browser:
        browser = await self.browser(**browser_options)
        response = await self.sign_in(browser, email, password)
        assert response.status_code == 303, response.text
        assert browser.session_cookie, response.headers
        await browser.load_token()
        return browser

    async def session_for(self, user: User, **browser_options: Any) -> tuple[Browser, UserSession]:
        """A signed-in browser without the cost of a password check: the session row is made directly."""
        async with self.db() as db:
            token, row = await sessions.create(
                db,
                user=user,
                ip=browser_options.get("ip", CLIENT_IP),
                user_agent=browser_options.get("user_agent", USER_AGENT),
                now=self.clock(),
            )
        browser = await self.browser(**browser_options)
        browser.set_cookie(cookies.SESSION, token)
        await browser.load_token()
        return browser, row

    # -- data --------------------------------------------------------------------------------

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        async with self.runtime.sessions() as session, session.begin():
            yield session

    async def create_user(
        self, email: str, password: str | None = PASSWORD, *, verified: bool = True, admin: bool = False
    ) -> User:
        password_hash = await _hash_once(password) if password is not None else None
        async with self.db() as db:
            user = await accounts.create_user(
                db, email=email, admin=admin, verified=verified, now=self.clock(), actor=CLI_ACTOR
            )
            user.password_hash = password_hash
            user.password_changed_at = self.clock()
        return user

    async def create_project(
        self,
        owner: User,
        slug: str,
        *,
        upstream_url: str = "http://127.0.0.1:9/v1",
        member: User | None = None,
        invite: str | None = None,
    ) -> ProjectWorld:
        """A project owned by ``owner`` with one endpoint (``chat``), one API key and, optionally,
        a second member and a pending invitation — made through the domain services."""
        now, actor = self.clock(), Actor(owner.id, owner.email, CLIENT_IP)
        rt = self.runtime
        async with self.db() as db:
            project = await project_service.create_project(
                db, name=slug.title(), slug=slug, owner=owner, now=now, actor=actor
            )
            await project_service.create_endpoint(
                db,
                project=project,
                slug="chat",
                upstream_url=upstream_url,
                upstream_model=None,
                upstream_key=None,
                rpm_limit=None,
                tpm_limit=None,
                key_ring=rt.secrets.key_ring,
                now=now,
                actor=actor,
            )
            key = await project_keys.create_api_key(
                db,
                project=project,
                name="main",
                environment="development",
                endpoint=None,
                expires_in=None,
                allowed_cidrs=[],
                pepper=rt.secrets.api_key_pepper,
                created_by_user_id=owner.id,
                now=now,
                actor=actor,
            )
            if member is not None:
                await members.invite(
                    db,
                    project=project,
                    email=member.email,
                    role="member",
                    inviter=owner,
                    now=now,
                    actor=actor,
                )
            invitation_id = None
            if invite is not None:
                await members.invite(
                    db, project=project, email=invite, role="member", inviter=owner, now=now, actor=actor
                )
                invitation_id = await db.scalar(
                    select(ProjectInvitation.id).where(ProjectInvitation.project_id == project.id)
                )
        return ProjectWorld(
            id=project.external_id,
            slug=project.slug,
            endpoint="chat",
            key_id=key.record.external_id,
            key=key.secret,
            member_id=member.id if member else None,
            invitation_id=invitation_id,
        )

    async def user(self, email: str) -> User:
        async with self.db() as db:
            return await accounts.get_user(db, email)

    async def session_rows(self, user_id: int) -> list[UserSession]:
        async with self.db() as db:
            rows = await db.scalars(select(UserSession).where(UserSession.user_id == user_id))
            return list(rows)

    async def count(self, table: str) -> int:
        async with self.runtime.engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (read from the live schema, so new tables are included)."""

        def names(conn: Any) -> list[str]:
            return sorted(n for n in inspect(conn).get_table_names() if n != "alembic_version")

        async with self.runtime.engine.connect() as conn:
            tables = await conn.run_sync(names)
            state = {}
            for name in tables:
                rows = (await conn.execute(text(f"SELECT * FROM {name}"))).all()
                state[name] = sorted((tuple(r) for r in rows), key=repr)
        return state

    # -- mail --------------------------------------------------------------------------------

    async def settle(self) -> None:
        """Let the outbox deliver what handlers queued (it runs as a task on this loop)."""
        queue = getattr(self.runtime.outbox, "_queue", None)
        if queue is not None:
            await asyncio.wait_for(queue.join(), 5)
        for _ in range(3):
            await asyncio.sleep(0)

    async def mails(self, to: str | None = None, subject: str | None = None) -> list[Mail]:
        await self.settle()
        return [
            m
            for m in self.mail.sent
            if (to is None or m.to == to) and (subject is None or subject.lower() in m.subject.lower())
        ]

    async def last_mail(self, to: str, subject: str) -> Mail:
        found = await self.mails(to, subject)
        assert found, f"no mail {subject!r} to {to}; sent: {[(m.to, m.subject) for m in self.mail.sent]}"
        return found[-1]

    # -- the CLI, as an operator runs it against the same database --------------------------

    def cli_env(self) -> dict[str, str]:
        env = clean_env()
        env["XEROTIER_DATA_DIR"] = str(self.settings.data_dir)
        env["XEROTIER_SECRET_KEY"] = SECRET_KEY
        if self.database_url:
            env["XEROTIER_DATABASE_URL"] = self.database_url
        return env

    async def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "xerotier", *args],
                env=self.cli_env(),
                cwd=ROOT,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=120,
            )

        return await asyncio.to_thread(run)


def database_url_for(kind: str, make_postgres_database: Callable[[], str]) -> str | None:
    """``sqlite`` → None (the file in the data directory); ``postgres`` → a fresh database."""
    return make_postgres_database() if kind == "postgres" else None


def data_dir_of(tmp_path: Path, n: int) -> Path:
    path = tmp_path / f"site{n}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
