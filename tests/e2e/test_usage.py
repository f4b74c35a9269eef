"""Usage is exact: N requests make N events, including across a SIGTERM right after the last response."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import httpx

from tests.e2e.conftest import Stack

N_CHAT, N_STREAM, N_MISSING = 150, 30, 20


def _usage(stack: Stack, key_name: str) -> dict[str, object]:
    out = stack.xt.cli("usage", "--project", "alpha", "--key", stack.key_ids[key_name], "--json").stdout
    return json.loads(out)  # type: ignore[no-any-return]


async def _fire(base: str, project: str, key: str) -> list[int]:
    headers = {"authorization": f"Bearer {key}"}
    body = {"model": "m", "messages": [{"role": "user", "content": "two words"}]}
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:

        async def chat() -> int:
            return (await client.post(f"/{project}/chat/v1/chat/completions", json=body)).status_code

        async def stream() -> int:
            async with client.stream(
                "POST", f"/{project}/chat/v1/chat/completions", json={**body, "stream": True}
            ) as response:
                async for _ in response.aiter_bytes():
                    pass
                return response.status_code

        async def missing() -> int:
            return (await client.post(f"/{project}/nope/v1/chat/completions", json=body)).status_code

        jobs = [chat() for _ in range(N_CHAT)] + [stream() for _ in range(N_STREAM)]
        jobs += [missing() for _ in range(N_MISSING)]
        return await asyncio.gather(*jobs)


def _check_totals(report: dict[str, object]) -> None:
    total = report["total"]
    assert total == {
        "requests": N_CHAT + N_STREAM + N_MISSING,
        "errors": N_MISSING,
        "prompt_tokens": 2 * (N_CHAT + N_STREAM),
        "completion_tokens": 5 * (N_CHAT + N_STREAM),
    }, total
    (entry,) = report["keys"]  # type: ignore[misc]
    assert entry["requests"] == N_CHAT + N_STREAM + N_MISSING


def test_concurrent_requests_make_exactly_n_events(stack: Stack) -> None:
    key = stack.create_key("alpha", "usage-live")
    statuses = asyncio.run(_fire(stack.server.url, stack.alpha, key))
    assert statuses.count(200) == N_CHAT + N_STREAM and statuses.count(404) == N_MISSING
    deadline = time.monotonic() + 10
    while _usage(stack, "usage-live")["total"]["requests"] != len(statuses):  # type: ignore[index]
        assert time.monotonic() < deadline, "usage never reached the request count"
        time.sleep(0.3)
    _check_totals(_usage(stack, "usage-live"))


def test_sigterm_right_after_last_response_loses_nothing(stack: Stack) -> None:
    key = stack.create_key("alpha", "usage-sigterm")
    # A long flush interval keeps every record in memory until shutdown: only the drain can save them.
    server = stack.xt.serve(env={"XEROTIER_USAGE_FLUSH_INTERVAL": "600"})
    try:
        statuses = asyncio.run(_fire(server.url, stack.alpha, key))
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0, server.log()
    finally:
        server.stop(signal.SIGKILL)
    assert len(statuses) == N_CHAT + N_STREAM + N_MISSING
    assert "usage drained: 200 records written, 0 dropped" in server.log()
    _check_totals(_usage(stack, "usage-sigterm"))


def test_two_workers_each_drain_on_sigterm(stack: Stack) -> None:
    key = stack.create_key("alpha", "usage-workers")
    server = stack.xt.serve(workers=2, env={"XEROTIER_USAGE_FLUSH_INTERVAL": "600"})
    try:
        statuses = asyncio.run(_fire(server.url, stack.alpha, key))
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0, server.log()
    finally:
        server.stop(signal.SIGKILL)
    assert len(statuses) == N_CHAT + N_STREAM + N_MISSING
    drained = server.log().count("usage drained:")
    assert drained == 2, server.log()  # both workers' logs reach the output, both drained
    _check_totals(_usage(stack, "usage-workers"))
