"""CPU accounting for one measurement: how busy the machine was, and how much of that was not us.

"Ours" is the benchmark's services (read from /proc/<pid>/stat) plus the children waited for
meanwhile (wrk), so ``foreign_pct`` is what other processes on a shared machine took away;
``foreign_top`` names the biggest of them that lived through the whole measurement.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class CpuUsage:
    busy_pct: float  # of all CPUs
    foreign_pct: float  # of all CPUs, used by processes other than ours
    steal_pct: float  # of all CPUs, taken by the hypervisor
    foreign_top: dict[str, float]  # process name → % of all CPUs


def _machine() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    busy = user + nice + system + irq + softirq
    return busy / _TICK, steal / _TICK, (busy + idle + iowait + steal) / _TICK


def _processes() -> dict[int, tuple[str, float]]:
    """pid → (name, CPU seconds used) for every process."""
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICK)  # utime + stime
    return found


def _children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    def __init__(self, pids: list[int]) -> None:
        self._ours = {*pids, os.getpid()}
        self._machine = _machine()
        self._children = _children()
        self._procs = _processes()

    def stop(self) -> CpuUsage:
        busy, steal, total = (b - a for a, b in zip(self._machine, _machine(), strict=True))
        total = total or 1.0
        procs = _processes()
        ours = _children() - self._children
        others: dict[str, float] = {}
        for pid, (name, used) in procs.items():
            before = self._procs.get(pid)
            if before is None or before[0] != name:
                continue
            if pid in self._ours:
                ours += used - before[1]
            elif used > before[1]:
                others[name] = others.get(name, 0.0) + used - before[1]
        top = sorted(others.items(), key=lambda item: -item[1])[:3]
        return CpuUsage(
            busy_pct=round(100 * busy / total, 1),
            foreign_pct=round(max(0.0, 100 * (busy - ours) / total), 1),
            steal_pct=round(100 * steal / total, 1),
            foreign_top={name: round(100 * used / total, 1) for name, used in top if used / total >= 0.01},
        )


def wait_quiet(limit: float, *, busy_below: float = 10.0, window: float = 2.0) -> float | None:
    """Wait up to ``limit`` seconds for a ``window`` in which the machine is less than ``busy_below``
    percent busy; return that window's busy percentage, or None when it never got that quiet."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        meter = CpuMeter([])
        time.sleep(window)
        busy = meter.stop().busy_pct
        if busy < busy_below:
            return busy
    return None
