"""Benchmark the gateway against its upstream called directly and against a bare relay (DESIGN §8).

Run from the repository root: python -m bench.run [--quick] [--database sqlite|postgres] [--out FILE]
Prints one JSON document on stdout (progress goes to stderr) and writes it to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

import orjson

from bench import info, load, provision, stream, wrk
from bench.cpu import wait_quiet
from bench.procs import Service, memory_mb, priority
from bench.stack import Stack, start

SOAK_SLICE = 15  # seconds of load between two RSS samples
WARMUP_CONNECTIONS = 8
STREAM_COUNT = 20
STREAM_PACE = 0.2  # seconds, as in provision.PACED_MODEL
STREAM_CHUNKS = 6  # the mock's 5 content events, then one write with the final events
PROMPT = [{"role": "user", "content": "Say hello in five words."}]
_DRAINED = re.compile(r"usage drained: (\d+) records written, (\d+) dropped")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def probe_stream(target: load.Target, model: str) -> list[stream.StreamSample]:
    """Two warm-up streams, then ``STREAM_COUNT`` measured ones; all counted in the target's tally."""
    body = orjson.dumps({"model": model, "messages": PROMPT, "stream": True})
    warm = stream.probe(target.port, target.path, body, target.headers, count=2)
    samples = stream.probe(target.port, target.path, body, target.headers, count=STREAM_COUNT)
    if target.tally is not None:
        ok = sum(s.status == 200 for s in warm + samples)
        target.tally.ok += ok
        target.tally.not_ok += len(warm) + len(samples) - ok
    return samples


def streaming(stack: Stack) -> dict[str, Any]:
    direct = probe_stream(stack.upstream, provision.PACED_MODEL)
    via_relay = probe_stream(stack.relay, provision.PACED_MODEL)
    via_gateway = probe_stream(stack.paced, "bench-model")
    first = {
        name: round(stream.median_first_byte_ms(samples), 3)
        for name, samples in (("upstream", direct), ("relay", via_relay), ("gateway", via_gateway))
    }
    gaps = stream.gaps_ms(via_gateway)
    return {
        "stream_first_byte_ms": first,
        "stream_first_byte_added_ms": round(first["gateway"] - first["upstream"], 3),
        "stream_chunks_spaced": stream.chunks_spaced(via_gateway, pace=STREAM_PACE, chunks=STREAM_CHUNKS),
        "stream_gap_ms": [round(min(gaps), 1), round(statistics.median(gaps), 1), round(max(gaps), 1)],
    }


def usage(stack: Stack) -> dict[str, Any]:
    """Usage rows against responses seen, then a graceful stop and what its drain reported."""
    tally = stack.gateway.tally
    assert tally is not None
    time.sleep(2.0)  # usage is flushed every 0.5 s
    recorded = provision.usage_requests(stack.env)
    stack.gateway_service.stop()  # SIGTERM: the recorder drains before the process exits
    drained = _DRAINED.findall(stack.gateway_service.log_path.read_text(errors="replace"))  # per worker
    # Independent of logging (spawned workers do not log at INFO): rows after the graceful stop.
    after_stop = provision.usage_requests(stack.env)
    return {
        "usage": {
            "responses_2xx": tally.ok,
            "responses_other": tally.not_ok,
            "socket_errors": tally.socket_errors,
            "recorded": recorded,
            "recorded_after_shutdown": after_stop,
            "shutdown_written": sum(int(w) for w, _ in drained) if drained else None,
            "shutdown_dropped": sum(int(d) for _, d in drained) if drained else None,
            "shutdown_drains": len(drained),
        },
        "usage_exact": recorded == tally.ok == after_stop,
    }


def checks(result: dict[str, Any]) -> dict[str, bool]:
    """The DESIGN §8 targets, each met or not."""
    return {
        "rps_32 >= 70% of relay": result["ratio_vs_relay"] >= 0.70,
        "added p50 <= 1 ms": result["added_p50_ms"] <= 1.0,
        "added p99 <= 3 ms": result["added_p99_ms"] <= 3.0,
        "stream first byte adds <= 2 ms": result["stream_first_byte_added_ms"] <= 2.0,
        "stream chunks flushed as they arrive": result["stream_chunks_spaced"],
        "usage exact": result["usage_exact"],
        "rss <= 150 MB": result["rss_mb"] <= 150.0,
        "ready <= 3 s": result["ready_s"] <= 3.0,
    }


def bench(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    seconds, rounds, warmup = (3, 3, 1) if args.quick else (10, 5, 2)
    result: dict[str, Any] = {
        "database": args.database,
        "workers": args.workers,
        "quick": args.quick,
        "seconds_per_measurement": seconds,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
    }
    result["machine"] = info.machine()
    result["code"] = info.code(args.commit)
    log(f"gateway ready in {stack.ready_s:.2f} s")
    log(f"load: warm-up {warmup} s each, then {rounds} interleaved rounds at 1 and at 32 connections")
    targets = [stack.upstream, stack.relay, *stack.variants, stack.gateway]
    result |= load.measure(targets, seconds=seconds, rounds=rounds, warmup=warmup, pids=stack.pids)
    memory = [memory_mb(pid) for pid in stack.gateway_pids]
    rss_mb, peak_mb = max(m[0] for m in memory), max(m[1] for m in memory)  # per serving process
    log("streaming: time to first byte and chunk spacing")
    result |= streaming(stack)
    log("usage: records against responses, then a graceful shutdown")
    result |= usage(stack)
    up, relay, gw = result["upstream"], result["relay"], result["gateway"]
    result |= {
        "ratio_vs_relay": round(gw["rps_32"] / relay["rps_32"], 3),
        "added_p50_ms": round(gw["p50_ms_1"] - up["p50_ms_1"], 3),
        "added_p99_ms": round(gw["p99_ms_1"] - up["p99_ms_1"], 3),
        "relay_added_p50_ms": round(relay["p50_ms_1"] - up["p50_ms_1"], 3),
        "relay_added_p99_ms": round(relay["p99_ms_1"] - up["p99_ms_1"], 3),
        "rss_mb": round(rss_mb, 1),
        "rss_peak_mb": round(peak_mb, 1),
        "rss_mb_all_workers": round(sum(m[0] for m in memory), 1),
        "ready_s": round(stack.ready_s, 3),
    }
    for variant in stack.variants:
        result[f"ratio_{variant.name.replace('-', '_')}_vs_relay"] = round(
            result[variant.name]["rps_32"] / relay["rps_32"], 3
        )
    result["machine"]["loadavg_at_end"] = info.loadavg()
    result["targets_met"] = checks(result)
    return result


def soak(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    """Constant load on the gateway for ``args.soak`` seconds; its RSS sampled every slice."""
    result: dict[str, Any] = {"database": args.database, "workers": args.workers, "nice": args.nice}
    result["machine"] = info.machine()
    result["code"] = info.code(args.commit)
    target = stack.gateway
    target.wrk(WARMUP_CONNECTIONS, 2)
    samples = [_rss_total(stack)]  # after the warm-up
    log(f"soak: {args.soak} s at {args.soak_connections} connections, RSS every {SOAK_SLICE} s")
    requests = 0
    deadline = time.monotonic() + args.soak
    while time.monotonic() < deadline:
        seconds = max(1, min(SOAK_SLICE, round(deadline - time.monotonic())))
        requests += target.wrk(args.soak_connections, seconds).requests
        samples.append(_rss_total(stack))
        log(f"soak: {requests} requests, RSS {samples[-1]:.1f} MB")
    start_mb, end_mb = samples[1], samples[-1]  # from the end of the first loaded slice
    # The rate limiter holds one timestamp per request of the last 60 s, so RSS rises by design
    # until its window is full; drift after that is what would be a leak.
    settled = min(len(samples) - 1, math.ceil(60 / SOAK_SLICE) + 1)
    result["soak"] = {
        "seconds": args.soak,
        "connections": args.soak_connections,
        "requests": requests,
        "rps": round(requests / args.soak, 1),
        "rss_mb_after_warmup": round(samples[0], 1),
        "rss_mb_start": round(start_mb, 1),
        "rss_mb_end": round(end_mb, 1),
        "rss_mb_max": round(max(samples), 1),
        "drift_mb": round(end_mb - start_mb, 1),
        "drift_pct": round(100 * (end_mb - start_mb) / start_mb, 2),
        "rss_mb_window_full": round(samples[settled], 1),
        "drift_after_window_mb": round(end_mb - samples[settled], 1),
        "drift_after_window_pct": round(100 * (end_mb - samples[settled]) / samples[settled], 2),
        "rss_mb_samples": [round(x, 1) for x in samples],
    }
    log("usage: records against responses, then a graceful shutdown")
    result |= usage(stack)
    return result


def _rss_total(stack: Stack) -> float:
    return sum(memory_mb(pid)[0] for pid in stack.gateway_pids)


def _terminate(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # run the finally blocks: stop children, drop the database


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, measure and tear down; every child process is stopped, the throw-away database dropped."""
    if args.wait_quiet > 0:
        busy = wait_quiet(args.wait_quiet)
        log(f"machine quiet ({busy}% busy)" if busy is not None else "machine still busy; measuring anyway")
    services: list[Service] = []
    pg_name = None
    try:
        with tempfile.TemporaryDirectory(prefix="xerotier-bench-") as tmp:
            try:
                database_url, code_path, args.commit = None, None, None
                if args.ref is not None:
                    args.commit, code_path = info.export(args.ref, Path(tmp) / "code")
                    log(f"measuring commit {args.commit}")
                if args.database == "postgres":
                    pg_name, database_url = provision.create_postgres(args.pg_admin_url)
                    log(f"created database {pg_name}")
                variants = tuple(v for v in args.variants.split(",") if v)
                stack = start(
                    args.database, database_url, code_path, Path(tmp), services, args.workers, variants
                )
                return soak(args, stack) if args.soak else bench(args, stack)
            except Exception:
                for service in services:
                    log(f"{service.name} log (tail):\n{service.log_tail()}")
                raise
            finally:
                for service in reversed(services):
                    service.stop()
    finally:
        if pg_name is not None:
            provision.drop_postgres(args.pg_admin_url, pg_name)
            log(f"dropped database {pg_name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~3 s per measurement instead of ~10 s")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the machine to be idle (< 10%% busy over 2 s)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run everything at this nice value; -10 (as root) shields the figures from busy neighbours",
    )
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes (serve --workers)")
    parser.add_argument(
        "--soak",
        type=int,
        default=0,
        metavar="SECONDS",
        help="instead of the measurements: constant load for SECONDS, RSS sampled every 15 s",
    )
    parser.add_argument(
        "--variants",
        default="",
        help="relay variants to measure too, comma-separated: granian (server swapped), httpx (client)",
    )
    parser.add_argument("--soak-connections", type=int, default=8, help="connections during --soak")
    parser.add_argument(
        "--ref", help="measure src/ of this git commit (e.g. HEAD) instead of the working tree"
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("XEROTIER_BENCH_PG_URL", provision.DEFAULT_PG_URL),
        help="PostgreSQL server on which a throw-away database is created (and dropped)",
    )
    args = parser.parse_args()
    try:
        wrk.check_installed()
    except wrk.WrkMissing as exc:
        sys.exit(f"error: {exc}")
    signal.signal(signal.SIGTERM, _terminate)
    with priority(args.nice) if args.nice else contextlib.nullcontext():
        result = run(args)
    document = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    print(document)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document + "\n")


if __name__ == "__main__":
    main()
