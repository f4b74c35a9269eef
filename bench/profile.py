"""Profile the gateway (and the bare relay) under load with py-spy.

Run from the repository root: python -m bench.profile [--seconds 15] [--database sqlite|postgres]
Starts the same stack as ``bench.run``, drives each target with wrk at 32 connections while
``py-spy record --format raw`` samples it, and prints, per target, the functions holding the most
samples (self and total, as a share of all samples). The raw stacks are
kept in ``bench/results/profile-<target>.txt`` (flamegraph.pl / speedscope read them).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import provision
from bench.load import Target
from bench.procs import Service
from bench.stack import start

OUT = Path("bench/results")


def record(target: Target, pid: int, seconds: int, rate: int) -> Path:
    out = OUT / f"profile-{target.name}.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    profiler = subprocess.Popen(
        [
            spy,
            "record",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--duration",
            str(seconds),
            "--pid",
            str(pid),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    result = target.wrk(32, seconds)
    profiler.wait()
    print(
        f"[profile] {target.name}: {result.requests / result.duration_s:.0f} requests/s under py-spy",
        file=sys.stderr,
    )
    return out


def summarize(path: Path, top: int) -> list[str]:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{path.name}: {samples} samples"]
    lines += [f"  self {n / samples:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += [f"  total {n / samples:6.1%}  {frame}" for frame, n in total.most_common(top * 2)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-admin-url", default=os.environ.get("XEROTIER_BENCH_PG_URL", provision.DEFAULT_PG_URL)
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    services: list[Service] = []
    pg_name, database_url = None, None
    if args.database == "postgres":
        pg_name, database_url = provision.create_postgres(args.pg_admin_url)
    with tempfile.TemporaryDirectory(prefix="xerotier-profile-") as tmp:
        try:
            stack = start(args.database, database_url, None, Path(tmp), services)
            for target in (stack.relay, stack.gateway):
                target.wrk(8, 2)  # warm-up
            relay_pid = services[1].pid
            paths = [
                record(stack.relay, relay_pid, args.seconds, args.rate),
                record(stack.gateway, stack.gateway_service.pid, args.seconds, args.rate),
            ]
        finally:
            for service in reversed(services):
                service.stop()
            if pg_name is not None:
                provision.drop_postgres(args.pg_admin_url, pg_name)
    for path in paths:
        print("\n".join(summarize(path, args.top)))


if __name__ == "__main__":
    main()
