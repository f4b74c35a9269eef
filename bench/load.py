"""Load measurements with wrk, interleaved so that noise from a shared machine hits every target alike.

Each measurement (1 connection, then 32) is split into short rounds that visit the targets in
turn: upstream, relay, gateway, upstream, relay, gateway, … Requests per second are the requests
of all rounds over their total time; a percentile is the median of the rounds' percentiles.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench import wrk
from bench.cpu import CpuMeter, CpuUsage

CONNECTIONS = (1, 32)
WARMUP_CONNECTIONS = 8


@dataclass(slots=True)
class Tally:
    """Every response a target gave during the run, to compare with its usage records."""

    ok: int = 0
    not_ok: int = 0
    socket_errors: int = 0

    def add(self, result: wrk.WrkResult) -> None:
        self.ok += result.ok
        self.not_ok += result.non_2xx
        self.socket_errors += result.socket_errors


@dataclass(slots=True)
class Target:
    name: str
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    tally: Tally | None = None  # count its responses (the gateway's)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def wrk(self, connections: int, seconds: int) -> wrk.WrkResult:
        result = wrk.run(self.url, connections=connections, duration=seconds, headers=self.headers)
        if self.tally is not None:
            self.tally.add(result)
        return result


def measure(
    targets: list[Target], *, seconds: int, rounds: int, warmup: int, pids: list[int]
) -> dict[str, dict[str, Any]]:
    """Warm every target up, then measure each at every connection count; one summary per target."""
    for target in targets:
        target.wrk(WARMUP_CONNECTIONS, warmup)
    per_round = max(1, round(seconds / rounds))
    runs: dict[tuple[str, int], list[wrk.WrkResult]] = {}
    cpu: dict[str, list[CpuUsage]] = {}
    for connections in CONNECTIONS:
        for _ in range(rounds):
            for target in targets:
                meter = CpuMeter(pids)
                runs.setdefault((target.name, connections), []).append(target.wrk(connections, per_round))
                cpu.setdefault(target.name, []).append(meter.stop())
    return {t.name: _summary(runs[t.name, 1], runs[t.name, 32], cpu[t.name]) for t in targets}


def _summary(one: list[wrk.WrkResult], many: list[wrk.WrkResult], cpu: list[CpuUsage]) -> dict[str, Any]:
    foreign_top: dict[str, float] = {}
    for usage in cpu:
        for name, pct in usage.foreign_top.items():
            foreign_top[name] = max(pct, foreign_top.get(name, 0.0))
    return {
        "rps_32": round(_rps(many), 1),
        "p50_ms_1": _median(r.p50_ms for r in one),
        "p99_ms_1": _median(r.p99_ms for r in one),
        "p50_ms_32": _median(r.p50_ms for r in many),
        "p99_ms_32": _median(r.p99_ms for r in many),
        "rps_1": round(_rps(one), 1),
        "p99_ms_32_worst_round": max(r.p99_ms for r in many),
        "non_2xx": sum(r.non_2xx for r in one + many),
        "socket_errors": sum(r.socket_errors for r in one + many),
        "cpu_busy_pct": round(statistics.fmean(u.busy_pct for u in cpu), 1),
        "foreign_cpu_pct": round(statistics.fmean(u.foreign_pct for u in cpu), 1),  # other processes
        "foreign_cpu_pct_max": max(u.foreign_pct for u in cpu),
        "foreign_top": foreign_top,
        "steal_pct": round(statistics.fmean(u.steal_pct for u in cpu), 1),
    }


def _rps(results: list[wrk.WrkResult]) -> float:
    return sum(r.requests for r in results) / sum(r.duration_s for r in results)


def _median(values: Iterable[float]) -> float:
    return round(statistics.median(values), 3)
