"""Child processes for the benchmark: own process groups, readiness polling, clean shutdown."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy


class Service:
    """A child process in its own process group; its output goes to ``<log_dir>/<name>.log``."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            process_group=0,  # pgid == pid: stop() can end the whole group
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group (graceful shutdown), then SIGKILL whatever is left of it."""
        if self.proc.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        _signal_group(self.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


_AUTOGROUP = Path("/proc/self/autogroup")


@contextlib.contextmanager
def priority(nice: int) -> Iterator[None]:
    """Nice this process and its children, and with Linux autogroups its whole session (the shell
    it was started from included), which is why the session's old value is put back afterwards."""
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        before = _AUTOGROUP.read_text().split()[-1]
        _AUTOGROUP.write_text(str(nice))
    except (OSError, IndexError):
        before = None  # no autogroups: the nice value alone does it
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                _AUTOGROUP.write_text(before)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(service: Service, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.02)
    raise TimeoutError(f"{service.name} did not listen on port {port} within {timeout} s")


def wait_healthy(service: Service, url: str, timeout: float = 30.0) -> float:
    """Poll ``url`` until it answers 200; return seconds since the service was spawned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.check_alive()
        try:
            with _DIRECT.open(url, timeout=1.0) as resp:
                if resp.status == 200:
                    return time.perf_counter() - service.spawned_at
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.01)
    raise TimeoutError(f"{service.name} was not healthy at {url} within {timeout} s:\n{service.log_tail()}")


def worker_pids(pid: int, expected: int, timeout: float = 20.0) -> list[int]:
    """The server processes of a ``serve --workers N`` supervisor: its children, minus
    multiprocessing's resource tracker. With one worker uvicorn serves in ``pid`` itself."""
    if expected <= 1:
        return [pid]
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for child in _children_of(pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" not in cmdline:
                found.append(child)
        if len(found) >= expected or time.monotonic() > deadline:
            return sorted(found)
        time.sleep(0.1)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (workers of a supervising server)."""
    found = [pid]
    for child in _children_of(pid):
        found += descendants(child)
    return found


def _children_of(pid: int) -> list[int]:
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                children += [int(c) for c in (task / "children").read_text().split()]
    return children


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB from /proc/<pid>/status."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB → MB
    return fields["VmRSS"], fields["VmHWM"]
