"""Domain exceptions. No HTTP here: the web and CLI boundaries translate these.

Every exception carries a stable machine-readable ``code`` (see ``ErrorCode``) so the
boundary can map it to a status and envelope without string matching.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    JSON_PARSE_ERROR = "json_parse_error"
    REQUEST_TOO_LARGE = "request_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_API_KEY = "invalid_api_key"
    CROSS_PROJECT_ACCESS = "cross_project_access"
    ENDPOINT_MISMATCH = "endpoint_mismatch"
    IP_NOT_ALLOWED = "ip_not_allowed"
    PROJECT_NOT_FOUND = "project_not_found"
    ENDPOINT_NOT_FOUND = "endpoint_not_found"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    UPSTREAM_ERROR = "upstream_error"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    ENDPOINT_INACTIVE = "endpoint_inactive"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"
    # management (CLI / dashboard)
    PERMISSION_DENIED = "permission_denied"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_TOKEN = "invalid_token"
    THROTTLED = "throttled"
    EMAIL_NOT_VERIFIED = "email_not_verified"
    ALREADY_EXISTS = "already_exists"
    VALIDATION_ERROR = "validation_error"


class XerotierError(Exception):
    """Base of all domain errors."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class ValidationError(XerotierError):
    code = ErrorCode.VALIDATION_ERROR


class NotFoundError(XerotierError):
    code = ErrorCode.NOT_FOUND


class AlreadyExistsError(XerotierError):
    code = ErrorCode.ALREADY_EXISTS


class ConfigurationError(XerotierError):
    """Settings are unusable (e.g. a placeholder secret key in production)."""
