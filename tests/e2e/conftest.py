"""One running installation per database, set up through the real CLI, shared by the session."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from openai import OpenAI

from tests.conftest import DATABASES
from tests.support.processes import Server, Upstream, Xerotier

UPSTREAM_SECRET = "sk-upstream-test-secret-1234"
OWNER = "owner@example.com"


@dataclass
class Stack:
    xt: Xerotier
    server: Server
    upstream: Upstream
    alpha: str  # project ids
    beta: str
    keys: dict[str, str] = field(default_factory=dict)  # name -> full key
    key_ids: dict[str, str] = field(default_factory=dict)  # name -> key_…
    _clients: dict[tuple[str, str | None, str | None], OpenAI] = field(default_factory=dict)

    def base_url(self, endpoint: str | None = "chat", project: str | None = None) -> str:
        project = project or self.alpha
        return f"{self.server.url}/{project}/{endpoint}/v1" if endpoint else f"{self.server.url}/{project}/v1"

    def client(
        self,
        key: str = "main",
        endpoint: str | None = "chat",
        project: str | None = None,
    ) -> OpenAI:
        """An SDK client (cached, closed at teardown) for a named key or a literal key string."""
        api_key = self.keys.get(key, key)
        cache_key = (api_key, endpoint, project)
        if cache_key not in self._clients:
            self._clients[cache_key] = OpenAI(
                base_url=self.base_url(endpoint, project), api_key=api_key, max_retries=0, timeout=30
            )
        return self._clients[cache_key]

    def close_clients(self) -> None:
        for client in self._clients.values():
            client.close()

    def create_key(self, project: str, name: str, *args: str) -> str:
        out = self.xt.cli("keys", "create", "--project", project, "--name", name, *args).stdout
        full = out.strip().splitlines()[-1]
        self.keys[name] = full
        self.key_ids[name] = out.split()[1]
        return full


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request: pytest.FixtureRequest, make_postgres_database: Callable[[], str]) -> str | None:
    return make_postgres_database() if request.param == "postgres" else None


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream, database_url: str | None
) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("xerotier")
    xt = Xerotier(
        data_dir=data_dir,
        database_url=database_url,
        extra_env={"XEROTIER_UPSTREAM_READ_TIMEOUT": "1.5", "XEROTIER_MAX_BODY_BYTES": "65536"},
    )
    if database_url:
        xt.cli("db", "upgrade")
    xt.cli("users", "create", "--email", OWNER, "--admin")
    alpha = xt.cli(
        "projects", "create", "--name", "Alpha", "--slug", "alpha", "--owner", OWNER
    ).stdout.strip()
    beta = xt.cli("projects", "create", "--name", "Beta", "--slug", "beta", "--owner", OWNER).stdout.strip()
    up = upstream.base_url
    endpoints = {
        "chat": [
            "--upstream-url",
            up,
            "--upstream-model",
            "mock-model",
            "--upstream-key-env",
            "UPSTREAM_KEY",
        ],
        "limited": ["--upstream-url", up, "--rpm", "3"],
        "slow": ["--upstream-url", up, "--upstream-model", "mock-paced-0.3"],
        "hang": ["--upstream-url", up, "--upstream-model", "mock-hang"],
        "down": ["--upstream-url", closed_port_url()],
        "broken": ["--upstream-url", up, "--upstream-model", "mock-500"],
        "badcreds": ["--upstream-url", up, "--upstream-model", "mock-401"],
        "breaks": ["--upstream-url", up, "--upstream-model", "mock-break"],
        "redirects": ["--upstream-url", up, "--upstream-model", "mock-redirect"],
        "inactive": ["--upstream-url", up],
    }
    for slug, args in endpoints.items():
        xt.cli(
            "endpoints",
            "create",
            "--project",
            "alpha",
            "--slug",
            slug,
            *args,
            env={"UPSTREAM_KEY": UPSTREAM_SECRET},
        )
    xt.cli("endpoints", "deactivate", "--project", "alpha", "--slug", "inactive")
    xt.cli("endpoints", "create", "--project", "beta", "--slug", "chat", "--upstream-url", up)
    server = xt.serve()
    s = Stack(xt=xt, server=server, upstream=upstream, alpha=alpha, beta=beta)
    s.create_key("alpha", "main", "--environment", "production")
    s.create_key("alpha", "bound", "--endpoint", "chat")
    s.create_key("alpha", "ip-denied", "--allow-ip", "10.0.0.0/8", "--allow-ip", "2001:db8::/32")
    s.create_key("alpha", "ip-allowed", "--allow-ip", "127.0.0.1/32")
    s.create_key("beta", "beta-main")
    try:
        yield s
    finally:
        s.close_clients()
        code = server.stop()
        assert code == 0, f"serve exited with {code}:\n{server.log()}"
        assert "Traceback" not in server.log(), server.log()
