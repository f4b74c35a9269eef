"""Real processes for end-to-end tests: the mock upstream, ``xerotier serve`` and the CLI."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
_STARTED: list[subprocess.Popen[bytes]] = []


def _reap() -> None:
    """Interrupted runs (Ctrl-C, a timeout) must not leave servers behind."""
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()


atexit.register(_reap)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, *, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Poll ``url`` until it answers 200; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} came up")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up within {timeout} s")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("XEROTIER_")}


@dataclass
class Upstream:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def last_request(self) -> dict[str, object]:
        return httpx.get(f"http://127.0.0.1:{self.port}/_last").json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def start_upstream() -> Upstream:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.mock_upstream", "--port", str(port)], cwd=ROOT, env=clean_env()
    )
    _STARTED.append(proc)
    wait_http(f"http://127.0.0.1:{port}/_count", proc=proc)
    return Upstream(port, proc)


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@dataclass
class Xerotier:
    """One installation: a data directory, a database and settings, driven like an operator would."""

    data_dir: Path
    database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = clean_env()
        env["XEROTIER_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["XEROTIER_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def cli(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "xerotier", *args],
            env={**self.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"xerotier {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def serve(
        self,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        port: int | None = None,
        args: tuple[str, ...] = (),
    ) -> Server:
        port = port or free_port()
        log_path = self.data_dir / f"serve-{port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xerotier",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    *args,
                ],
                env={**self.env(), **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _STARTED.append(proc)
        server = Server(port, proc, log_path)
        try:
            wait_http(f"{server.url}/healthz", proc=proc)
        except Exception as exc:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"serve did not start:\n{server.log()}") from exc
        return server
