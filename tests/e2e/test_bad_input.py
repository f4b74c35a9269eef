"""Bad requests get a clear status and the OpenAI envelope — never a 500 — and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Stack


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=stack.server.url, timeout=30, headers={"authorization": f"Bearer {stack.keys['main']}"}
    ) as client:
        yield client


def _post(
    http: httpx.Client,
    stack: Stack,
    content: bytes,
    content_type: str | None = "application/json",
    path: str = "chat/completions",
) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return http.post(f"/{stack.alpha}/chat/v1/{path}", content=content, headers=headers)


def _check(response: httpx.Response, status: int, code: str | None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"model": "m", "messages": [', "application/json", 400, "json_parse_error"),
        (b"[1, 2, 3]", "application/json", 400, "invalid_request"),
        (b'"just a string"', "application/json", 400, "invalid_request"),
        (b"", "application/json", 400, "invalid_request"),
        (b"   ", "application/json", 400, "invalid_request"),
        (b'{"model": "m", "stream": "yes"}', "application/json", 400, "invalid_request"),
        (b'{"model": "m", "stream": true, "stream_options": 5}', "application/json", 400, "invalid_request"),
        (b'{"model": "m"}', "text/plain", 415, "unsupported_media_type"),
        (b"model=m", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"model": "m"}', None, 415, "unsupported_media_type"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "json_parse_error"),
    ],
)
def test_malformed_bodies(
    http: httpx.Client, stack: Stack, body: bytes, content_type: str | None, status: int, code: str
) -> None:
    _check(_post(http, stack, body, content_type), status, code)


def test_oversized_body_declared(http: httpx.Client, stack: Stack) -> None:
    _check(_post(http, stack, b'{"x": "' + b"a" * 70_000 + b'"}'), 413, "request_too_large")


def test_oversized_body_chunked(http: httpx.Client, stack: Stack) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"x": "'
        for _ in range(20):
            yield b"a" * 8192
        yield b'"}'

    response = http.post(
        f"/{stack.alpha}/chat/v1/chat/completions",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    _check(response, 413, "request_too_large")


def test_embeddings_refuse_streaming(http: httpx.Client, stack: Stack) -> None:
    _check(
        _post(http, stack, b'{"model": "m", "input": "x", "stream": true}', path="embeddings"),
        400,
        "invalid_request",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/{alpha}/chat/v1/unknown",
        "/{alpha}/chat/v2/chat/completions",
        "/{alpha}/chat/v1/chat/completions/extra",
        "/{alpha}",
        "/{alpha}/chat",
        "/v1/chat/completions",
        "/totally/unknown/path",
    ],
)
def test_unknown_paths(http: httpx.Client, stack: Stack, path: str) -> None:
    response = http.post(path.format(alpha=stack.alpha), json={"model": "m"})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "not_found_error"
    assert response.headers["x-request-id"].startswith("req_")


def test_wrong_method(http: httpx.Client, stack: Stack) -> None:
    response = http.get(f"/{stack.alpha}/chat/v1/chat/completions")
    _check(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    _check(http.post(f"/{stack.alpha}/chat/v1/models", json={}), 405, "method_not_allowed")


def test_health_endpoints(stack: Stack) -> None:
    assert httpx.get(f"{stack.server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{stack.server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_still_serving_after_bad_input(http: httpx.Client, stack: Stack) -> None:
    response = http.post(
        f"/{stack.alpha}/chat/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    assert "Traceback" not in stack.server.log()
