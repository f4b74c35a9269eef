"""The processes under test: mock upstream, bare relay and a provisioned gateway."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bench import provision
from bench.load import Tally, Target
from bench.procs import Service, descendants, free_port, wait_healthy, wait_port, worker_pids


@dataclass(slots=True)
class Stack:
    upstream: Target
    relay: Target
    gateway: Target  # the instant endpoint
    paced: Target  # the paced streaming endpoint (same tally as ``gateway``)
    gateway_service: Service
    gateway_pids: list[int]  # the serving processes: the service itself, or its N workers
    pids: list[int]  # every service's, for CPU accounting
    variants: list[Target]  # relays with the server or the client swapped (--variants)
    ready_s: float  # gateway: spawn → /healthz answers 200
    env: dict[str, str]


def start(
    database: str,
    database_url: str | None,
    code_path: Path | None,
    tmp: Path,
    services: list[Service],
    workers: int = 1,
    variants: tuple[str, ...] = (),
) -> Stack:
    """Start everything, each in its own process group; ``services`` collects them for the caller to stop."""
    python = sys.executable
    up_port, relay_port, gw_port = free_port(), free_port(), free_port()
    upstream_origin = f"http://127.0.0.1:{up_port}"
    env = provision.gateway_env(tmp / "data", database_url, code_path)
    upstream_cmd = [python, "-m", "tests.support.mock_upstream", "--port", str(up_port)]
    services.append(upstream := Service("upstream", upstream_cmd, env=env, log_dir=tmp))
    relay_cmd = [python, "-m", "bench.relay", "--port", str(relay_port), "--upstream", upstream_origin]
    services.append(relay := Service("relay", relay_cmd, env=env, log_dir=tmp))
    wait_port(upstream, up_port)
    wait_port(relay, relay_port)
    variant_targets = []
    # "granian" (server swapped), "httpx" (client swapped), "gc" (the gateway's GC threshold)
    swaps = {
        "granian": ["--server", "granian"],
        "httpx": ["--client", "httpx"],
        "gc": ["--gc-threshold", "50000"],
    }
    for variant in variants:
        port = free_port()
        swap = swaps[variant]
        argv = [*relay_cmd[:3], "--port", str(port), "--upstream", upstream_origin, *swap]
        services.append(service := Service(f"relay-{variant}", argv, env=env, log_dir=tmp))
        wait_port(service, port)
        variant_targets.append(Target(f"relay-{variant}", port, "/v1/chat/completions"))

    print(f"[bench] provisioning the gateway ({database})", file=sys.stderr, flush=True)
    project = provision.provision(env, f"{upstream_origin}/v1", migrate=database == "postgres")
    # One worker: uvicorn serves in the spawned process itself, so its pid is the server's; with
    # more, the spawned process supervises and its children serve.
    gateway_cmd = [python, "-m", "xerotier", "serve", "--port", str(gw_port), "--workers", str(workers)]
    services.append(gateway := Service("gateway", gateway_cmd, env=env, log_dir=tmp))
    ready_s = wait_healthy(gateway, f"http://127.0.0.1:{gw_port}/healthz")
    gateway_pids = worker_pids(gateway.pid, workers)

    auth = {"Authorization": f"Bearer {project.key}"}
    base = f"/{project.external_id}"
    tally = Tally()
    return Stack(
        upstream=Target("upstream", up_port, "/v1/chat/completions"),
        relay=Target("relay", relay_port, "/v1/chat/completions"),
        gateway=Target("gateway", gw_port, f"{base}/ep/v1/chat/completions", auth, tally),
        paced=Target("gateway", gw_port, f"{base}/paced/v1/chat/completions", auth, tally),
        gateway_service=gateway,
        gateway_pids=gateway_pids,
        pids=[pid for service in services for pid in descendants(service.pid)],
        variants=variant_targets,
        ready_s=ready_s,
        env=env,
    )
