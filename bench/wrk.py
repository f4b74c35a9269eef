"""Run wrk with ``post.lua`` and parse its report.

The script stops starting requests after ``duration`` seconds; wrk itself runs ``GRACE`` seconds
longer, so the requests in flight at the deadline finish instead of being dropped. That way the
count wrk reports is exactly what the server answered (needed for the usage check), and requests
per second are computed over ``duration``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("post.lua")
GRACE = 1  # seconds; below wrk's 2 s timeout so idle connections are not counted as timeouts
INSTALL_HINT = "wrk is not installed; install it with `apt-get install wrk` (Debian/Ubuntu) and retry."

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE = re.compile(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


class WrkMissing(RuntimeError):
    pass


@dataclass(slots=True)
class WrkResult:
    connections: int
    duration_s: int
    requests: int  # responses received, any status
    non_2xx: int  # wrk counts status >= 400 here
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s


def check_installed() -> None:
    if shutil.which("wrk") is None:
        raise WrkMissing(INSTALL_HINT)


def run(url: str, *, connections: int, duration: int, headers: dict[str, str] | None = None) -> WrkResult:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration + GRACE}s", "--latency", "-s", str(SCRIPT)]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv += [url, "--", str(duration)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout, connections=connections, duration=duration)


def parse(report: str, *, connections: int, duration: int) -> WrkResult:
    requests = _REQUESTS.search(report)
    if requests is None:
        raise RuntimeError(f"cannot read the wrk report:\n{report}")
    non_2xx = _NON_2XX.search(report)
    socket = _SOCKET.search(report)
    percentiles = {int(p): float(v) * _UNITS[unit] for p, v, unit in _PERCENTILE.findall(report)}
    return WrkResult(
        connections=connections,
        duration_s=duration,
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        p50_ms=percentiles.get(50, float("nan")),
        p99_ms=percentiles.get(99, float("nan")),
    )
