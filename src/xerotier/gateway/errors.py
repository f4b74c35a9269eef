"""OpenAI-style error envelope for the inference API (DESIGN §7).

The SDKs pick their exception class from the status code, so status and type must agree.
"""

from __future__ import annotations

import orjson

from xerotier.errors import ErrorCode

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


class GatewayError(Exception):
    __slots__ = ("code", "headers", "message", "param", "status")

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        param: str | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or []

    def body(self) -> bytes:
        return envelope(self.status, self.code, self.message, self.param)


def error_type(status: int) -> str:
    return _TYPES.get(status) or ("invalid_request_error" if 400 <= status < 500 else "server_error")


def envelope(status: int, code: str | None, message: str, param: str | None = None) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": error_type(status), "code": code, "param": param}}
    )


def invalid_key(reason: str) -> GatewayError:
    return GatewayError(401, ErrorCode.INVALID_API_KEY, reason)
