"""Every failure reaches the SDK as its own exception class, in OpenAI's error envelope."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.e2e.conftest import Stack
from xerotier.security import api_keys

MESSAGES = [{"role": "user", "content": "hi"}]


def _chat(stack: Stack, key: str = "main", **kw: object) -> object:
    return stack.client(key, **kw).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]


def _error(exc: openai.APIStatusError) -> dict[str, object]:
    body = exc.response.json()
    assert set(body["error"]) == {"message", "type", "code", "param"}
    assert exc.response.headers["x-request-id"].startswith("req_")
    return body["error"]  # type: ignore[no-any-return]


def test_missing_key(stack: Stack) -> None:
    response = httpx.post(stack.base_url() + "/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-key",
        "xero_alpha_short",
        "Bearer-ish xero_alpha_" + "A" * 49,
    ],
)
def test_malformed_key(stack: Stack, bad: str) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(stack, bad)
    assert _error(info.value)["code"] == "invalid_api_key"


def test_checksum_typo(stack: Stack) -> None:
    key = stack.keys["main"]
    typo = key[:-1] + ("A" if key[-1] != "A" else "B")
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(stack, typo)
    assert "Malformed" in str(_error(info.value)["message"])


def test_unknown_key(stack: Stack) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(stack, api_keys.generate("alpha"))
    assert _error(info.value)["message"] == "Unknown API key."


def test_expired_key(stack: Stack) -> None:
    key = stack.create_key("alpha", "short-lived", "--expires-in", "3s")
    created = time.monotonic()
    assert _chat(stack, key) is not None
    time.sleep(max(0.0, 3.2 - (time.monotonic() - created)))
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(stack, key)
    assert "expired" in str(_error(info.value)["message"])


def test_key_of_another_project(stack: Stack) -> None:
    with pytest.raises(openai.PermissionDeniedError) as info:
        _chat(stack, "beta-main")
    assert _error(info.value)["code"] == "cross_project_access"
    with pytest.raises(openai.PermissionDeniedError):
        stack.client("main", project=stack.beta).chat.completions.create(model="m", messages=MESSAGES)


def test_endpoint_binding(stack: Stack) -> None:
    assert _chat(stack, "bound") is not None
    with pytest.raises(openai.PermissionDeniedError) as info:
        _chat(stack, "bound", endpoint="limited")
    assert _error(info.value)["code"] == "endpoint_mismatch"


def test_ip_allow_list(stack: Stack) -> None:
    with pytest.raises(openai.PermissionDeniedError) as info:
        _chat(stack, "ip-denied")
    assert _error(info.value)["code"] == "ip_not_allowed"
    assert _chat(stack, "ip-allowed") is not None


def test_unknown_project_and_endpoint(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _chat(stack, project="proj_doesnotexist0000")
    assert _error(info.value)["code"] == "project_not_found"
    with pytest.raises(openai.NotFoundError) as info:
        _chat(stack, endpoint="nope")
    assert _error(info.value)["code"] == "endpoint_not_found"


def test_rate_limit(stack: Stack) -> None:
    key = stack.create_key("alpha", "rate-test", "--endpoint", "limited")
    for _ in range(3):
        _chat(stack, key, endpoint="limited")
    with pytest.raises(openai.RateLimitError) as info:
        _chat(stack, key, endpoint="limited")
    assert _error(info.value)["code"] == "rate_limit_exceeded"
    headers = info.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "0"


def test_inactive_endpoint(stack: Stack) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        _chat(stack, endpoint="inactive")
    assert info.value.status_code == 503
    assert _error(info.value)["code"] == "endpoint_inactive"


@pytest.mark.parametrize(
    ("endpoint", "status", "code"),
    [
        ("down", 502, "upstream_error"),
        ("hang", 504, "upstream_timeout"),
        ("broken", 502, "upstream_error"),
        ("badcreds", 502, "upstream_error"),
    ],
)
def test_upstream_failures(stack: Stack, endpoint: str, status: int, code: str) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        _chat(stack, endpoint=endpoint)
    assert info.value.status_code == status
    assert _error(info.value)["code"] == code
    assert _chat(stack) is not None  # and the gateway keeps serving


def test_upstream_breaking_mid_stream(stack: Stack) -> None:
    stream = stack.client(endpoint="breaks").chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    assert _chat(stack) is not None


def test_upstream_redirects_are_not_followed(stack: Stack) -> None:
    """An endpoint owner must not turn the gateway into a proxy to what only it can reach
    (e.g. a cloud metadata service) by answering with a redirect."""
    with pytest.raises(openai.InternalServerError) as info:
        _chat(stack, endpoint="redirects")
    assert info.value.status_code == 502
    assert _error(info.value)["code"] == "upstream_error"
    assert "instance-credentials" not in info.value.response.text


def test_endpoints_pointing_at_metadata_addresses_are_refused(stack: Stack) -> None:
    result = stack.xt.cli(
        "endpoints",
        "create",
        "--project",
        "alpha",
        "--slug",
        "meta",
        "--upstream-url",
        "http://169.254.169.254/latest",
        check=False,
    )
    assert result.returncode == 1
    assert "not allowed" in result.stderr
