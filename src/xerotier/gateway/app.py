"""The inference API as a raw ASGI handler (DESIGN §2 hot path).

Paths under ``/proj_…`` are served here; everything else falls through to the dashboard app.
No framework routing, no per-field validation of prompts, no database access on a cache hit:
parse the key, look it up in memory, check limits, relay bytes, enqueue a usage record.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xerotier.errors import ErrorCode
from xerotier.gateway.auth import KeyCache, KeyRecord
from xerotier.gateway.errors import GatewayError
from xerotier.gateway.routing import EndpointConfig, ProjectConfig, RoutingTable
from xerotier.gateway.streaming import SSEUsageFilter, usage_from_body
from xerotier.gateway.upstream import CONNECTION_ERRORS
from xerotier.ratelimit.base import Decision, RateLimiter
from xerotier.usage.recorder import UsageRecord, UsageRecorder

log = logging.getLogger(__name__)

WINDOW = 60.0
# Request ids only need to be unique: a random per-process prefix and a counter (no syscall per
# request, unlike secrets.token_hex).
_RID_PREFIX = "req_" + secrets.token_hex(6)
_rid_counter = itertools.count(1)
ROUTING_REFRESH_MIN_INTERVAL = 0.5

# tail after /v1/ → (method, operation, upstream path, may stream)
_OPERATIONS: dict[str, tuple[str, str, str, bool]] = {
    "chat/completions": ("POST", "chat.completions", "/chat/completions", True),
    "completions": ("POST", "completions", "/completions", True),
    "embeddings": ("POST", "embeddings", "/embeddings", False),
    "models": ("GET", "models", "", False),
}
_JSON = b"application/json"
_REMAINING_REQUESTS = b"x-ratelimit-remaining-requests"
_REMAINING_TOKENS = b"x-ratelimit-remaining-tokens"
_RESET_REQUESTS = (b"x-ratelimit-reset-requests", b"0.000s")  # when allowed, retry_after is 0
_RESET_TOKENS = (b"x-ratelimit-reset-tokens", b"0.000s")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientGone(Exception):
    """The client disconnected before we answered."""


@dataclass(slots=True)
class Outcome:
    """What the usage record needs to know about how a request ended."""

    status: int = 200
    error_code: str | None = None
    ttft: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class GatewayApp:
    def __init__(
        self,
        *,
        fallback: ASGIApp,
        keys: KeyCache,
        limiter: RateLimiter,
        recorder: UsageRecorder,
        http: aiohttp.ClientSession | None,
        max_body_bytes: int,
        max_upstream_body_bytes: int = 64 * 1024 * 1024,
        refresh_routing: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.fallback = fallback
        self.keys = keys
        self.limiter = limiter
        self.recorder = recorder
        self.http = http
        self.max_body_bytes = max_body_bytes
        self.max_upstream_body_bytes = max_upstream_body_bytes
        self.routing = RoutingTable()
        self.refresh_routing = refresh_routing  # async callable forcing a reload, set by app wiring
        self._last_forced_refresh = 0.0

    def set_routing(self, table: RoutingTable) -> None:
        self.routing = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/proj_"):
            await self.fallback(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = f"{_RID_PREFIX}{next(_rid_counter):x}"
        rid = request_id.encode()
        outcome = Outcome()
        record: KeyRecord | None = None
        endpoint: EndpointConfig | None = None
        operation = "unknown"
        try:
            parts = scope["path"].split("/")
            route = _match(parts, scope["method"])
            operation = route[1]
            headers = _headers(scope)
            record = await self.keys.authenticate(headers.get(b"authorization"))
            project = await self._project(parts[1], record)
            if route[0] == "project-models":
                await self._send_models(send, rid, project, record, None)
            else:
                endpoint = await self._endpoint(project, parts[2])
                self._check_access(record, endpoint, scope)
                if operation == "models":
                    await self._send_models(send, rid, project, record, endpoint)
                else:
                    limit_headers = await self._check_limits(endpoint)
                    await self._relay(
                        scope, receive, send, rid, headers, endpoint, route, limit_headers, outcome
                    )
        except GatewayError as exc:
            outcome.status, outcome.error_code = exc.status, exc.code
            await _send_json(send, exc.status, exc.body(), rid, exc.headers)
        except ClientGone:
            outcome.status, outcome.error_code = 499, "client_closed"
        except Exception:
            log.exception("unhandled error in inference request %s", request_id)
            outcome.status, outcome.error_code = 500, ErrorCode.INTERNAL_ERROR
            message = f"Internal error; request id {request_id}."
            body = GatewayError(500, ErrorCode.INTERNAL_ERROR, message).body()
            # If the response had already started, uvicorn refuses and closes the connection.
            with contextlib.suppress(RuntimeError):
                await _send_json(send, 500, body, rid, [])
        if record is not None:
            self._record(scope, record, endpoint, operation, outcome, started, request_id)

    # -- routing -------------------------------------------------------------------------------

    async def _project(self, external_id: str, record: KeyRecord) -> ProjectConfig:
        project = self.routing.by_external_id.get(external_id)
        if project is None and await self._refresh():
            project = self.routing.by_external_id.get(external_id)
        if project is None:
            raise GatewayError(404, ErrorCode.PROJECT_NOT_FOUND, f"Project {external_id!r} not found.")
        if project.id != record.project_id:
            raise GatewayError(
                403, ErrorCode.CROSS_PROJECT_ACCESS, "This API key belongs to another project."
            )
        return project

    async def _endpoint(self, project: ProjectConfig, slug: str) -> EndpointConfig:
        endpoint = project.endpoints.get(slug)
        if endpoint is None and await self._refresh():
            fresh = self.routing.by_id.get(project.id)
            endpoint = fresh.endpoints.get(slug) if fresh else None
        if endpoint is None:
            raise GatewayError(
                404, ErrorCode.ENDPOINT_NOT_FOUND, f"Endpoint {slug!r} not found in this project."
            )
        return endpoint

    async def _refresh(self) -> bool:
        """Reload the routing table on a miss (an endpoint created a moment ago), at most twice a second."""
        now = time.monotonic()
        if self.refresh_routing is None or now - self._last_forced_refresh < ROUTING_REFRESH_MIN_INTERVAL:
            return False
        self._last_forced_refresh = now
        try:
            await self.refresh_routing()
        except Exception as exc:
            log.warning("routing refresh failed: %s", exc)
            return False
        return True

    def _check_access(self, record: KeyRecord, endpoint: EndpointConfig, scope: Scope) -> None:
        if record.endpoint_id is not None and record.endpoint_id != endpoint.id:
            raise GatewayError(403, ErrorCode.ENDPOINT_MISMATCH, "This API key is bound to another endpoint.")
        if record.networks is not None:
            client = scope.get("client")
            try:
                address = ipaddress.ip_address(client[0]) if client else None
            except ValueError:
                address = None
            if address is None or not any(address in net for net in record.networks):
                raise GatewayError(
                    403,
                    ErrorCode.IP_NOT_ALLOWED,
                    "Requests from this IP address are not allowed for this API key.",
                )
        if not endpoint.active:
            raise GatewayError(503, ErrorCode.ENDPOINT_INACTIVE, "This endpoint is inactive.")

    async def _check_limits(self, endpoint: EndpointConfig) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        if endpoint.rpm_limit is not None:
            decision = await self.limiter.hit(endpoint.rpm_bucket, limit=endpoint.rpm_limit, window=WINDOW)
            headers += _limit_headers(
                endpoint.rpm_limit_header, _REMAINING_REQUESTS, _RESET_REQUESTS, decision
            )
            if not decision.allowed:
                raise _rate_limited("requests per minute", decision, headers)
        if endpoint.tpm_limit is not None:
            decision = await self.limiter.check_budget(
                endpoint.tpm_bucket, limit=endpoint.tpm_limit, window=WINDOW
            )
            headers += _limit_headers(endpoint.tpm_limit_header, _REMAINING_TOKENS, _RESET_TOKENS, decision)
            if not decision.allowed:
                raise _rate_limited("tokens per minute", decision, headers)
        return headers

    # -- responses -----------------------------------------------------------------------------

    async def _send_models(
        self,
        send: Send,
        rid: bytes,
        project: ProjectConfig,
        record: KeyRecord,
        endpoint: EndpointConfig | None,
    ) -> None:
        if endpoint is not None:
            endpoints = [endpoint]
        else:
            endpoints = [
                ep
                for ep in project.endpoints.values()
                if ep.active and (record.endpoint_id is None or record.endpoint_id == ep.id)
            ]
        data = [
            {
                "id": ep.slug,
                "object": "model",
                "created": ep.created,
                "owned_by": project.slug,
                "upstream_model": ep.upstream_model,
            }
            for ep in endpoints
        ]
        await _send_json(send, 200, orjson.dumps({"object": "list", "data": data}), rid, [])

    async def _relay(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        rid: bytes,
        headers: dict[bytes, bytes],
        endpoint: EndpointConfig,
        route: tuple[str, str, str, bool],
        limit_headers: list[tuple[bytes, bytes]],
        outcome: Outcome,
    ) -> None:
        if endpoint.egress_denied:
            raise GatewayError(502, ErrorCode.UPSTREAM_ERROR, "The upstream address is not allowed.")
        body = await _read_body(receive, headers.get(b"content-length"), self.max_body_bytes)
        payload, stream, injected_usage = _prepare(body, headers.get(b"content-type"), endpoint, route[3])
        upstream_headers = {**endpoint.upstream_headers, "X-Request-ID": rid.decode()}
        if self.http is None:
            raise RuntimeError("upstream client not started")
        started = time.perf_counter()
        response_started = False
        try:
            # Never follow redirects: an upstream could otherwise point the gateway at what only the
            # gateway can reach (a 3xx becomes a 502 in _upstream_answer).
            async with self.http.post(
                endpoint.upstream_url + route[2],
                data=payload,
                headers=upstream_headers,
                allow_redirects=False,
            ) as resp:
                if stream and resp.status == 200 and resp.content_type == "text/event-stream":
                    response_started = True
                    await self._relay_stream(
                        receive, send, rid, resp, injected_usage, limit_headers, outcome, started
                    )
                else:
                    data = await _read_capped(resp, self.max_upstream_body_bytes)
                    status = resp.status
                    if not 200 <= status < 300:  # parse the content type only when it matters
                        status, data = _upstream_answer(status, resp.content_type, data)
                    if status == 200:
                        outcome.prompt_tokens, outcome.completion_tokens = usage_from_body(data)
                    else:
                        outcome.status, outcome.error_code = status, ErrorCode.UPSTREAM_ERROR
                    response_started = True
                    await _send_json(send, status, data, rid, limit_headers)
        except TimeoutError:
            if response_started:
                outcome.status, outcome.error_code = 504, ErrorCode.UPSTREAM_TIMEOUT
                await _end_stream_with_error(send, "The upstream model server stopped responding.")
                return
            raise GatewayError(
                504, ErrorCode.UPSTREAM_TIMEOUT, "The upstream model server did not respond in time."
            ) from None
        except CONNECTION_ERRORS as exc:
            if response_started:
                outcome.status, outcome.error_code = 502, ErrorCode.UPSTREAM_ERROR
                await _end_stream_with_error(send, "The connection to the upstream model server broke.")
                return
            log.warning("upstream %s unreachable: %s", endpoint.upstream_url, exc)
            raise GatewayError(
                502, ErrorCode.UPSTREAM_ERROR, "Could not reach the upstream model server."
            ) from None
        finally:
            tokens = outcome.prompt_tokens + outcome.completion_tokens
            if endpoint.tpm_limit is not None and tokens:
                await self.limiter.consume(endpoint.tpm_bucket, tokens, window=WINDOW)

    async def _relay_stream(
        self,
        receive: Receive,
        send: Send,
        rid: bytes,
        resp: aiohttp.ClientResponse,
        injected_usage: bool,
        limit_headers: list[tuple[bytes, bytes]],
        outcome: Outcome,
        started: float,
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_SSE_HEADERS, (b"x-request-id", rid), *limit_headers],
            }
        )
        sse = SSEUsageFilter(drop_usage_chunk=injected_usage)
        disconnected = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            async for chunk in resp.content.iter_any():
                if outcome.ttft is None:
                    outcome.ttft = time.perf_counter() - started
                out = sse.feed(chunk)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                if disconnected.done():
                    outcome.status, outcome.error_code = 499, "client_closed"
                    return
            await send({"type": "http.response.body", "body": sse.finish(), "more_body": False})
        finally:
            disconnected.cancel()
            outcome.prompt_tokens, outcome.completion_tokens = sse.prompt_tokens, sse.completion_tokens
            if sse.saw_error and outcome.status == 200:
                outcome.status, outcome.error_code = 502, ErrorCode.UPSTREAM_ERROR

    def _record(
        self,
        scope: Scope,
        record: KeyRecord,
        endpoint: EndpointConfig | None,
        operation: str,
        outcome: Outcome,
        started: float,
        request_id: str,
    ) -> None:
        client = scope.get("client")
        now = time.perf_counter()
        self.recorder.record(
            UsageRecord(
                created_at=time.time(),
                project_id=record.project_id,
                endpoint_id=endpoint.id if endpoint else None,
                api_key_id=record.id,
                operation=operation,
                status=outcome.status,
                error_code=outcome.error_code,
                latency_ms=(now - started) * 1000.0,
                ttft_ms=outcome.ttft * 1000.0 if outcome.ttft is not None else None,
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                client_ip=client[0] if client else None,
                request_id=request_id,
            )
        )


# -- helpers (module level: no per-request closures) ---------------------------------------------


def _match(parts: list[str], method: str) -> tuple[str, str, str, bool]:
    if len(parts) == 4 and parts[2] == "v1" and parts[3] == "models":
        if method != "GET":
            raise _method_not_allowed("GET")
        return ("project-models", "models", "", False)
    if len(parts) >= 5 and parts[3] == "v1" and parts[1] and parts[2]:
        op = _OPERATIONS.get("/".join(parts[4:]))
        if op is not None:
            if method != op[0]:
                raise _method_not_allowed(op[0])
            return op
    raise GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        "Unknown path. Inference URLs look like /<project_id>/<endpoint>/v1/chat/completions.",
    )


def _method_not_allowed(allowed: str) -> GatewayError:
    return GatewayError(
        405,
        ErrorCode.METHOD_NOT_ALLOWED,
        f"Method not allowed; use {allowed}.",
        headers=[(b"allow", allowed.encode())],
    )


def _headers(scope: Scope) -> dict[bytes, bytes]:
    wanted: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in (b"authorization", b"content-type", b"content-length"):
            wanted[name] = value
    return wanted


def _limit_headers(
    limit: tuple[bytes, bytes], remaining: bytes, reset: tuple[bytes, bytes], decision: Decision
) -> tuple[tuple[bytes, bytes], ...]:
    """The limit and (while nothing waits) the reset header are constant: only `remaining` is formatted."""
    if decision.retry_after:
        reset = (reset[0], b"%.3fs" % decision.retry_after)
    return (limit, (remaining, b"%d" % decision.remaining), reset)


def _rate_limited(what: str, decision: Decision, headers: list[tuple[bytes, bytes]]) -> GatewayError:
    retry = max(1, math.ceil(decision.retry_after))
    return GatewayError(
        429,
        ErrorCode.RATE_LIMIT_EXCEEDED,
        f"Rate limit of {decision.limit} {what} exceeded; retry in {retry} s.",
        headers=[(b"retry-after", str(retry).encode()), *headers],
    )


async def _read_body(receive: Receive, content_length: bytes | None, limit: int) -> bytes:
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise GatewayError(400, ErrorCode.INVALID_REQUEST, "Invalid Content-Length header.") from None
        if declared > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, ErrorCode.REQUEST_TOO_LARGE, f"Request body exceeds the limit of {limit} bytes.")


def _prepare(
    body: bytes, content_type: bytes | None, endpoint: EndpointConfig, may_stream: bool
) -> tuple[bytes, bool, bool]:
    """Validate the envelope (not the prompt) and return (payload, stream, injected usage)."""
    if content_type is None or not content_type.lower().startswith(_JSON):
        raise GatewayError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json.")
    if not body.strip():
        raise GatewayError(400, ErrorCode.INVALID_REQUEST, "The request body is empty; send a JSON object.")
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(
            400, ErrorCode.JSON_PARSE_ERROR, f"The request body is not valid JSON: {exc}"
        ) from None
    if not isinstance(obj, dict):
        raise GatewayError(400, ErrorCode.INVALID_REQUEST, "The request body must be a JSON object.")
    changed = False
    if endpoint.upstream_model and obj.get("model") != endpoint.upstream_model:
        obj["model"] = endpoint.upstream_model
        changed = True
    stream = obj.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise GatewayError(400, ErrorCode.INVALID_REQUEST, "'stream' must be a boolean.", param="stream")
    injected = False
    if stream:
        if not may_stream:
            raise GatewayError(
                400, ErrorCode.INVALID_REQUEST, "This operation does not stream.", param="stream"
            )
        options = obj.get("stream_options")
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise GatewayError(
                400, ErrorCode.INVALID_REQUEST, "'stream_options' must be an object.", param="stream_options"
            )
        if options.get("include_usage") is not True:
            obj["stream_options"] = {**options, "include_usage": True}
            injected = changed = True
    return (orjson.dumps(obj) if changed else body), stream, injected


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole upstream body, but never more than ``limit`` bytes held in memory (502 beyond)."""
    declared = resp.content_length
    if declared is not None and declared <= limit:
        return await resp.read()  # the common case: aiohttp's fast path
    chunks, size = [], 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise GatewayError(502, ErrorCode.UPSTREAM_ERROR, "The upstream response is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def _upstream_answer(status: int, content_type: str, data: bytes) -> tuple[int, bytes]:
    """Relay 2xx and 4xx bodies; map upstream auth failures and 5xx to 502 so clients are not misled."""
    if 200 <= status < 300:
        return status, data
    message = f"The upstream model server answered HTTP {status}."
    upstream_error = None
    if content_type == "application/json":
        try:
            obj = orjson.loads(data)
            upstream_error = obj.get("error") if isinstance(obj, dict) else None
        except orjson.JSONDecodeError:
            pass
    if status in (401, 403):
        return 502, GatewayError(
            502, ErrorCode.UPSTREAM_ERROR, "The upstream model server rejected the gateway's credentials."
        ).body()
    if 400 <= status < 500 and isinstance(upstream_error, dict):
        return status, data  # e.g. context length exceeded: the client's to fix, already in envelope form
    if isinstance(upstream_error, dict) and isinstance(upstream_error.get("message"), str):
        message += " " + upstream_error["message"][:500]
    code = status if 400 <= status < 500 else 502
    return code, GatewayError(code, ErrorCode.UPSTREAM_ERROR, message).body()


async def _send_json(
    send: Send, status: int, body: bytes, rid: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", _JSON),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", rid),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _end_stream_with_error(send: Send, message: str) -> None:
    event = b"data: " + GatewayError(502, ErrorCode.UPSTREAM_ERROR, message).body() + b"\n\n"
    await send({"type": "http.response.body", "body": event, "more_body": False})


async def _wait_disconnect(receive: Receive) -> Message:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return message
