"""A fresh database and a configured project for the gateway, made through the ``xerotier`` CLI."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.procs import ROOT

EMAIL = "bench@example.com"
SLUG = "bench"
RPM = 100_000_000  # rate limiting is on, but never triggers
PACED_MODEL = "mock-paced-0.2"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(slots=True)
class Project:
    external_id: str  # proj_…
    key: str  # full API key


def gateway_env(data_dir: Path, database_url: str | None, code_path: Path | None) -> dict[str, str]:
    """The parent environment minus any XEROTIER_* settings, plus the benchmark's own.

    ``code_path`` (a ``src`` directory) goes first on PYTHONPATH, to run that xerotier instead of
    the installed one.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("XEROTIER_")}
    if code_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code_path), env.get("PYTHONPATH")]))
    env["XEROTIER_DATA_DIR"] = str(data_dir)
    env["XEROTIER_SECRET_KEY"] = secrets.token_urlsafe(48)
    if database_url:
        env["XEROTIER_DATABASE_URL"] = database_url
    return env


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "xerotier", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`xerotier {' '.join(args)}` failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


def provision(env: dict[str, str], upstream_base: str, *, migrate: bool) -> Project:
    """User, project, two endpoints (instant and paced streaming) and a key."""
    if migrate:
        cli(env, "db", "upgrade")
    cli(env, "users", "create", "--email", EMAIL, "--admin")
    external_id = _last_line(
        cli(env, "projects", "create", "--name", "Bench", "--slug", SLUG, "--owner", EMAIL)
    )
    for slug, model in (("ep", "m"), ("paced", PACED_MODEL)):
        endpoint = ["--project", SLUG, "--slug", slug, "--upstream-url", upstream_base]
        cli(env, "endpoints", "create", *endpoint, "--upstream-model", model, "--rpm", str(RPM))
    key = _last_line(cli(env, "keys", "create", "--project", SLUG, "--name", "bench"))
    return Project(external_id=external_id, key=key)


def usage_requests(env: dict[str, str]) -> int:
    report = orjson.loads(cli(env, "usage", "--project", SLUG, "--json"))
    return int(report["total"]["requests"])


# -- PostgreSQL: one throw-away database per run ----------------------------------------------


def _asyncpg_url(url: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    path = "/" + database if database else parts.path
    return urlunsplit(("postgresql+asyncpg", parts.netloc, path, parts.query, ""))


async def _admin(admin_url: str, statement: str) -> None:
    engine = create_async_engine(_asyncpg_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def create_postgres(admin_url: str) -> tuple[str, str]:
    """Create ``xerotier_bench_<random>``; return (its name, its SQLAlchemy URL)."""
    name = f"xerotier_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    return name, _asyncpg_url(admin_url, name)


def drop_postgres(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
