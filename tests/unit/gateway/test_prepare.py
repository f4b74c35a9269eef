"""Hot-path helpers of the inference API: envelope checks, path matching, upstream error mapping."""

from __future__ import annotations

import orjson
import pytest

from xerotier.errors import ErrorCode
from xerotier.gateway.app import _match, _prepare, _upstream_answer
from xerotier.gateway.errors import GatewayError
from xerotier.gateway.routing import EndpointConfig

JSON = b"application/json"


def _endpoint(upstream_model: str | None = None) -> EndpointConfig:
    return EndpointConfig(
        id=1,
        project_id=1,
        slug="chat",
        upstream_url="http://127.0.0.1:9001/v1",
        upstream_model=upstream_model,
        upstream_authorization=None,
        rpm_limit=None,
        tpm_limit=None,
        active=True,
        created=1700000000,
    )


def _error(exc: pytest.ExceptionInfo[GatewayError]) -> dict[str, object]:
    envelope = orjson.loads(exc.value.body())
    assert set(envelope) == {"error"}
    error = envelope["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["code"] == exc.value.code
    return error


def _body_error(body: bytes) -> dict[str, object]:
    envelope = orjson.loads(body)
    assert set(envelope) == {"error"}
    assert set(envelope["error"]) == {"message", "type", "code", "param"}
    return envelope["error"]


# -- _prepare: rejections ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, b"", b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data", b"json"],
)
def test_prepare_rejects_a_missing_or_wrong_content_type_with_415(content_type: bytes | None) -> None:
    with pytest.raises(GatewayError) as exc:
        _prepare(b'{"model": "m"}', content_type, _endpoint(), True)
    assert exc.value.status == 415
    assert exc.value.code == ErrorCode.UNSUPPORTED_MEDIA_TYPE
    assert _error(exc)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "content_type", [b"application/json", b"Application/JSON", b"application/json; charset=utf-8"]
)
def test_prepare_accepts_json_content_types(content_type: bytes) -> None:
    payload, stream, injected = _prepare(b'{"model": "m"}', content_type, _endpoint(), True)
    assert (payload, stream, injected) == (b'{"model": "m"}', False, False)


@pytest.mark.parametrize(
    "body", [b"{", b'{"model": }', b"{'model': 'm'}", b"\xff\xfe{}", b'{"a": 1} x', b"NaN"]
)
def test_prepare_rejects_malformed_json_with_json_parse_error(body: bytes) -> None:
    with pytest.raises(GatewayError) as exc:
        _prepare(body, JSON, _endpoint(), True)
    assert exc.value.status == 400
    assert exc.value.code == ErrorCode.JSON_PARSE_ERROR
    assert _error(exc)["type"] == "invalid_request_error"


@pytest.mark.parametrize("body", [b"", b"   ", b"\r\n\t "])
def test_prepare_rejects_an_empty_body(body: bytes) -> None:
    with pytest.raises(GatewayError) as exc:
        _prepare(body, JSON, _endpoint(), True)
    assert exc.value.status == 400
    assert exc.value.code == ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("body", [b"[]", b'[{"model": "m"}]', b'"hello"', b"42", b"1.5", b"null", b"true"])
def test_prepare_rejects_a_non_object_body(body: bytes) -> None:
    with pytest.raises(GatewayError) as exc:
        _prepare(body, JSON, _endpoint(), True)
    assert exc.value.status == 400
    assert exc.value.code == ErrorCode.INVALID_REQUEST
    assert "object" in exc.value.message


@pytest.mark.parametrize("stream", ['"true"', "1", "0", "[]", "{}", '"yes"'])
def test_prepare_rejects_a_non_boolean_stream(stream: str) -> None:
    with pytest.raises(GatewayError) as exc:
        _prepare(f'{{"model": "m", "stream": {stream}}}'.encode(), JSON, _endpoint(), True)
    assert exc.value.status == 400
    assert exc.value.code == ErrorCode.INVALID_REQUEST
    assert _error(exc)["param"] == "stream"


@pytest.mark.parametrize("options", ['"x"', "[]", "1", "true"])
def test_prepare_rejects_non_object_stream_options(options: str) -> None:
    body = f'{{"model": "m", "stream": true, "stream_options": {options}}}'.encode()
    with pytest.raises(GatewayError) as exc:
        _prepare(body, JSON, _endpoint(), True)
    assert exc.value.status == 400
    assert exc.value.code == ErrorCode.INVALID_REQUEST
    assert _error(exc)["param"] == "stream_options"


def test_prepare_rejects_stream_on_an_operation_that_does_not_stream() -> None:
    with pytest.raises(GatewayError) as exc:
        _prepare(b'{"model": "m", "input": "x", "stream": true}', JSON, _endpoint(), False)
    assert exc.value.status == 400
    assert exc.value.code == ErrorCode.INVALID_REQUEST
    assert _error(exc)["param"] == "stream"


@pytest.mark.parametrize("stream", ["false", "null"])
def test_prepare_accepts_a_false_or_null_stream_on_a_non_streaming_operation(stream: str) -> None:
    body = f'{{"model": "m", "input": "x", "stream": {stream}}}'.encode()
    assert _prepare(body, JSON, _endpoint(), False) == (body, False, False)


# -- _prepare: rewriting -----------------------------------------------------------------------


def test_prepare_returns_the_original_bytes_when_nothing_changes() -> None:
    # Odd spacing and key order would not survive a re-serialisation.
    body = b'{ "temperature" : 0.5,  "model":"m", "messages" : [ ] }'
    assert _prepare(body, JSON, _endpoint(), True) == (body, False, False)
    assert _prepare(body, JSON, _endpoint(upstream_model="m"), True) == (body, False, False)


def test_prepare_keeps_the_body_when_the_client_already_asked_for_usage() -> None:
    body = b'{"model":"m",  "stream": true, "stream_options": {"include_usage": true}}'
    assert _prepare(body, JSON, _endpoint(), True) == (body, True, False)


def test_prepare_rewrites_the_model_when_the_endpoint_sets_one() -> None:
    body = b'{"model": "client-name", "messages": [{"role": "user", "content": "hi \\u00e9"}], "n": 2}'
    payload, stream, injected = _prepare(body, JSON, _endpoint(upstream_model="Qwen/Qwen2.5-7B"), True)
    assert (stream, injected) == (False, False)
    sent = orjson.loads(payload)
    assert sent == {**orjson.loads(body), "model": "Qwen/Qwen2.5-7B"}


def test_prepare_sets_the_model_when_the_client_sent_none() -> None:
    payload, _, _ = _prepare(b'{"messages": []}', JSON, _endpoint(upstream_model="up"), True)
    assert orjson.loads(payload) == {"messages": [], "model": "up"}


def test_prepare_leaves_the_model_alone_without_an_upstream_model() -> None:
    body = b'{"model": "whatever-the-client-says"}'
    payload, _, _ = _prepare(body, JSON, _endpoint(upstream_model=None), True)
    assert payload == body


@pytest.mark.parametrize(
    "options", [None, "null", "{}", '{"include_usage": false}', '{"include_usage": null}']
)
def test_prepare_injects_include_usage_when_the_client_did_not_ask(options: str | None) -> None:
    extra = "" if options is None else f', "stream_options": {options}'
    body = f'{{"model": "m", "stream": true{extra}}}'.encode()
    payload, stream, injected = _prepare(body, JSON, _endpoint(), True)
    assert (stream, injected) == (True, True)
    assert orjson.loads(payload) == {"model": "m", "stream": True, "stream_options": {"include_usage": True}}


def test_prepare_keeps_other_stream_options_when_injecting() -> None:
    body = b'{"model": "m", "stream": true, "stream_options": {"continuous_usage_stats": true, "x": [1]}}'
    payload, _, injected = _prepare(body, JSON, _endpoint(), True)
    assert injected
    assert orjson.loads(payload)["stream_options"] == {
        "continuous_usage_stats": True,
        "x": [1],
        "include_usage": True,
    }


def test_prepare_does_not_inject_without_streaming() -> None:
    body = b'{"model": "m", "stream": false, "stream_options": {"include_usage": false}}'
    assert _prepare(body, JSON, _endpoint(), True) == (body, False, False)


def test_prepare_rewrites_model_and_injects_usage_together() -> None:
    body = b'{"model": "a", "stream": true, "messages": []}'
    payload, stream, injected = _prepare(body, JSON, _endpoint(upstream_model="b"), True)
    assert (stream, injected) == (True, True)
    assert orjson.loads(payload) == {
        "model": "b",
        "stream": True,
        "messages": [],
        "stream_options": {"include_usage": True},
    }


# -- _match ------------------------------------------------------------------------------------


def _parts(path: str) -> list[str]:
    return path.split("/")


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        ("/proj_a/v1/models", "GET", ("project-models", "models", "", False)),
        ("/proj_a/chat/v1/chat/completions", "POST", ("POST", "chat.completions", "/chat/completions", True)),
        ("/proj_a/chat/v1/completions", "POST", ("POST", "completions", "/completions", True)),
        ("/proj_a/emb/v1/embeddings", "POST", ("POST", "embeddings", "/embeddings", False)),
        ("/proj_a/chat/v1/models", "GET", ("GET", "models", "", False)),
        ("/proj_a/v1/v1/models", "GET", ("GET", "models", "", False)),  # an endpoint may be named v1
    ],
)
def test_match_routes(path: str, method: str, expected: tuple[str, str, str, bool]) -> None:
    assert _match(_parts(path), method) == expected


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/proj_a/chat/v1/chat/completions", "GET", b"POST"),
        ("/proj_a/chat/v1/chat/completions", "PUT", b"POST"),
        ("/proj_a/chat/v1/completions", "DELETE", b"POST"),
        ("/proj_a/chat/v1/embeddings", "GET", b"POST"),
        ("/proj_a/chat/v1/models", "POST", b"GET"),
        ("/proj_a/v1/models", "POST", b"GET"),
        ("/proj_a/v1/models", "HEAD", b"GET"),
    ],
)
def test_match_wrong_method_is_405_with_an_allow_header(path: str, method: str, allowed: bytes) -> None:
    with pytest.raises(GatewayError) as exc:
        _match(_parts(path), method)
    assert exc.value.status == 405
    assert exc.value.code == ErrorCode.METHOD_NOT_ALLOWED
    assert (b"allow", allowed) in exc.value.headers
    assert _error(exc)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "path",
    [
        "/proj_a",
        "/proj_a/",
        "/proj_a/chat",
        "/proj_a/chat/v1",
        "/proj_a/chat/v1/",
        "/proj_a/chat/v1/chat",
        "/proj_a/chat/v1/chat/completions/",
        "/proj_a/chat/v1/chat/completions/x",
        "/proj_a/chat/v2/chat/completions",
        "/proj_a/chat/v1/responses",
        "/proj_a/chat/v1/models/extra",
        "/proj_a/v1/models/",
        "/proj_a//v1/chat/completions",
        "/proj_a/v1/chat/completions",
        "/proj_a/chat/v1/Chat/Completions",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_match_unknown_tails_are_404(path: str, method: str) -> None:
    with pytest.raises(GatewayError) as exc:
        _match(_parts(path), method)
    assert exc.value.status == 404
    assert exc.value.code == ErrorCode.NOT_FOUND
    assert _error(exc)["type"] == "not_found_error"


# -- _upstream_answer --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 299])
def test_upstream_2xx_is_passed_through(status: int) -> None:
    body = b'{"id": "x", "choices": []}'
    assert _upstream_answer(status, "application/json", body) == (status, body)
    assert _upstream_answer(status, "text/plain", b"not json") == (status, b"not json")


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_auth_failure_becomes_502_and_hides_the_upstream_body(status: int) -> None:
    upstream = (
        b'{"error": {"message": "Incorrect API key provided: sk-abc123", "type": "invalid_request_error"}}'
    )
    code, body = _upstream_answer(status, "application/json", upstream)
    assert code == 502
    error = _body_error(body)
    assert error["code"] == ErrorCode.UPSTREAM_ERROR
    assert error["type"] == "server_error"
    assert b"sk-abc123" not in body


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_upstream_5xx_becomes_a_502_envelope(status: int) -> None:
    code, body = _upstream_answer(status, "text/html", b"<html>Bad Gateway</html>")
    assert code == 502
    error = _body_error(body)
    assert error["code"] == ErrorCode.UPSTREAM_ERROR
    assert error["type"] == "server_error"
    assert str(status) in error["message"]
    assert "<html>" not in error["message"]


def test_upstream_5xx_envelope_message_is_included_and_bounded() -> None:
    upstream = orjson.dumps({"error": {"message": "CUDA out of memory " + "x" * 5000}})
    code, body = _upstream_answer(500, "application/json", upstream)
    assert code == 502
    message = _body_error(body)["message"]
    assert "CUDA out of memory" in message
    assert len(message) < 700


@pytest.mark.parametrize("status", [400, 404, 413, 422, 429])
def test_upstream_4xx_with_an_error_envelope_is_passed_through(status: int) -> None:
    upstream = orjson.dumps(
        {"error": {"message": "context length exceeded", "type": "invalid_request_error", "code": None}}
    )
    assert _upstream_answer(status, "application/json", upstream) == (status, upstream)


@pytest.mark.parametrize(
    ("content_type", "upstream"),
    [
        ("text/plain", b"Bad Request"),
        ("application/json", b'{"detail": [{"loc": ["body", "model"], "msg": "field required"}]}'),
        ("application/json", b'{"error": "a plain string"}'),
        ("application/json", b"[1, 2]"),
        ("application/json", b"{not json"),
        ("application/json", b""),
    ],
)
@pytest.mark.parametrize("status", [400, 404, 422])
def test_upstream_4xx_without_an_envelope_is_wrapped(status: int, content_type: str, upstream: bytes) -> None:
    code, body = _upstream_answer(status, content_type, upstream)
    assert code == status
    error = _body_error(body)
    assert error["code"] == ErrorCode.UPSTREAM_ERROR
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    assert str(status) in error["message"]


# -- GatewayError ------------------------------------------------------------------------------


def test_gateway_error_body_is_the_openai_envelope() -> None:
    exc = GatewayError(
        429, ErrorCode.RATE_LIMIT_EXCEEDED, "slow down", param="x", headers=[(b"retry-after", b"3")]
    )
    assert exc.status == 429
    assert exc.code == "rate_limit_exceeded"
    assert exc.headers == [(b"retry-after", b"3")]
    assert orjson.loads(exc.body()) == {
        "error": {
            "message": "slow down",
            "type": "rate_limit_error",
            "code": "rate_limit_exceeded",
            "param": "x",
        }
    }


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "authentication_error"),
        (404, "not_found_error"),
        (409, "invalid_request_error"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
def test_gateway_error_type_follows_the_status(status: int, kind: str) -> None:
    assert orjson.loads(GatewayError(status, ErrorCode.INVALID_REQUEST, "m").body())["error"]["type"] == kind
