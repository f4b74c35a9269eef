"""The real app in-process (real lifespan, real database, real middleware) driven over httpx.

Each test gets a fresh database (SQLite file, or a new PostgreSQL database for tests that ask for
``database`` = "postgres") and signs users in through the real login page.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message

from xerotier import migrate
from xerotier.accounts import service as accounts
from xerotier.accounts.models import User
from xerotier.app import create_app
from xerotier.audit.store import CLI_ACTOR
from xerotier.db import Base, create_engine, session_factory
from xerotier.mail.outbox import ConsoleTransport, Mail
from xerotier.security.passwords import hash_password_sync
from xerotier.settings import Settings

PASSWORD = "plum-harbour-violin-42"
BASE = "https://testserver"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
KEY_RE = re.compile(r"xero_[a-z0-9-]+_[A-Za-z0-9]{49}")


class Clock:
    """The app's clock: real time at the middle of the current hour, moved only by tests."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password_sync(PASSWORD)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("XEROTIER_"):
            monkeypatch.delenv(name)


@pytest.fixture
def database() -> str:
    """Which engine a test runs on; override with ``@pytest.mark.parametrize("database", DATABASES)``."""
    return "sqlite"


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run the ASGI lifespan protocol by hand (start-up before the first request, shutdown after)."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        await outbox.put(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        await asyncio.gather(task, return_exceptions=True)
        raise RuntimeError(f"start-up failed: {started.get('message')}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


@dataclass
class Browser:
    """One signed-in (or anonymous) browser: its own cookie jar and CSRF token."""

    client: httpx.AsyncClient
    csrf: str = ""
    user_id: int | None = None
    email: str = ""

    def _remember(self, response: httpx.Response) -> httpx.Response:
        match = (
            _CSRF.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        )
        if match:
            self.csrf = match.group(1)
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"accept": "text/html", **kwargs.pop("headers", {})}
        return self._remember(await self.client.get(path, headers=headers, **kwargs))

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        """A plain HTML form post, as the browser sends it (csrf_token field)."""
        fields = {"csrf_token": self.csrf, **(data or {})}
        return self._remember(await self.client.post(path, data=fields, headers={"accept": "text/html"}))

    async def api(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None
    ) -> httpx.Response:
        headers = {"x-csrf-token": self.csrf, "accept": "application/json"}
        if raw is not None:
            headers["content-type"] = "application/json"
            return await self.client.request(method, path, content=raw, headers=headers)
        return await self.client.request(method, path, json=body, headers=headers)


@dataclass
class Harness:
    app: ASGIApp
    settings: Settings
    clock: Clock
    mail: ConsoleTransport
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    password_hash: str
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def browser(self) -> Browser:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE)
        self.clients.append(client)
        return Browser(client)

    async def user(self, email: str, *, verified: bool = True) -> int:
        async with self.sessions() as session, session.begin():
            user = await accounts.create_user(
                session, email=email, admin=False, verified=verified, now=self.clock(), actor=CLI_ACTOR
            )
            user.password_hash = self.password_hash
            return user.id

    async def login(self, email: str, password: str = PASSWORD) -> Browser:
        browser = self.browser()
        await browser.get("/auth/login")
        response = await browser.post("/auth/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        page = await browser.get("/projects")
        assert page.status_code == 200
        browser.email = email
        async with self.sessions() as session:
            browser.user_id = await session.scalar(select(User.id).where(User.email == email))
        return browser

    async def signed_in(self, email: str, *, verified: bool = True) -> Browser:
        await self.user(email, verified=verified)
        return await self.login(email)

    async def project(self, owner: Browser, slug: str = "alpha", name: str = "Alpha") -> str:
        response = await owner.post("/projects", {"name": name, "slug": slug})
        assert response.status_code == 303, response.text
        return response.headers["location"].rsplit("/", 1)[1]

    async def count(self, model: type[Base]) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def wait_for_mail(self, to: str, subject_part: str, timeout: float = 5.0) -> Mail:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for mail in self.mail.sent:
                if mail.to == to and subject_part in mail.subject:
                    return mail
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no mail to {to} about {subject_part!r}: {self.mail.sent}")
            await asyncio.sleep(0.01)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def database_url(
    database: str, tmp_path: Path, make_postgres_database: Callable[[], str]
) -> Iterator[str | None]:
    if database == "postgres":
        yield make_postgres_database()
    else:
        yield None


@pytest.fixture
async def harness(
    tmp_path: Path, database_url: str | None, password_hash: str, settings_overrides: dict[str, Any]
) -> AsyncIterator[Harness]:
    settings = Settings(
        data_dir=tmp_path,
        secret_key="x" * 40,
        public_url=BASE,
        database_url=database_url,
        # Nothing but the request itself may evict a revoked key or refresh routing in these tests.
        change_poll_interval=3600.0,
        key_cache_ttl=3600.0,
        usage_flush_interval=0.05,
        **settings_overrides,
    )
    engine = create_engine(settings.effective_database_url)
    await migrate.upgrade(engine)
    clock = Clock()
    mail = ConsoleTransport()
    app = create_app(settings, clock=clock, transport=mail)
    h = Harness(
        app=app,
        settings=settings,
        clock=clock,
        mail=mail,
        engine=engine,
        sessions=session_factory(engine),
        password_hash=password_hash,
    )
    try:
        async with lifespan(app):
            yield h
            for client in h.clients:
                await client.aclose()
    finally:
        await engine.dispose()


def hours_ago(clock: Clock, hours: float) -> datetime:
    return clock() - timedelta(hours=hours)


UPSTREAM = "http://127.0.0.1:9/v1"  # never contacted: every request in these tests stops before relaying
_NEW_KEY = re.compile(r'<code id="new-key" class="secret"[^>]*>([^<]+)</code>')
_KEY_ID = re.compile(r"<code>(key_[A-Za-z0-9]+)</code>")


async def add_endpoint(owner: Browser, pid: str, slug: str = "chat", **fields: str) -> None:
    response = await owner.post(
        f"/projects/{pid}/endpoints", {"slug": slug, "upstream_url": UPSTREAM, **fields}
    )
    assert response.status_code == 303, response.text


async def add_key(owner: Browser, pid: str, name: str = "svc", **fields: str) -> tuple[str, str]:
    """Create a key through the page; returns (key id, full key)."""
    response = await owner.post(f"/projects/{pid}/keys", {"name": name, **fields})
    assert response.status_code == 200, response.text
    secret, key_id = _NEW_KEY.search(response.text), _KEY_ID.search(response.text)
    assert secret and key_id
    return key_id.group(1), secret.group(1)


async def call_gateway(
    h: Harness, pid: str, key: str, path: str = "chat/v1/chat/completions"
) -> httpx.Response:
    """The inference API in-process, as an SDK would call it."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app), base_url=BASE) as client:
        headers = {"authorization": f"Bearer {key}"}
        if path.endswith("/models"):
            return await client.get(f"/{pid}/{path}", headers=headers)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        return await client.post(f"/{pid}/{path}", json=body, headers=headers)
