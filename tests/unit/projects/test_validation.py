"""Input rules shared by the CLI and the dashboard: bad input is a ValidationError, never a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from xerotier.errors import ErrorCode, ValidationError
from xerotier.projects import validation

# -- slugs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "9", "my-project", "a--b", "a" * 40, "0abc9"])
def test_slug_accepts_valid_values(value: str) -> None:
    assert validation.slug(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-a",
        "a-",
        "-",
        "My-Project",
        "a_b",
        "a b",
        "a.b",
        "a" * 41,
        "caf\u00e9",
        "a/b",
        " a",
        "a\n",
        "a\r\n",
    ],
)
def test_slug_rejects_invalid_values(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validation.slug(value, what="endpoint slug")
    assert exc.value.code == ErrorCode.VALIDATION_ERROR
    assert exc.value.param == "endpoint slug"


# -- names -------------------------------------------------------------------------------------


def test_name_is_stripped() -> None:
    assert validation.name("  My Key  ") == "My Key"


@pytest.mark.parametrize("value", ["x", "x" * 200, "caf\u00e9 \U0001f511"])
def test_name_accepts_1_to_200_characters(value: str) -> None:
    assert validation.name(value) == value


@pytest.mark.parametrize("value", ["", "   ", "\t\n", "x" * 201])
def test_name_rejects_empty_or_long_values(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validation.name(value, what="key name")
    assert exc.value.param == "key name"


# -- upstream URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8001/v1", "http://127.0.0.1:8001/v1"),
        ("https://api.example.com/v1/", "https://api.example.com/v1"),
        ("  http://vllm:8000/v1//  ", "http://vllm:8000/v1"),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
        ("HTTPS://Example.com", "HTTPS://Example.com"),
    ],
)
def test_upstream_url_accepts_http_and_https(value: str, expected: str) -> None:
    assert validation.upstream_url(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "ftp://example.com/v1",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com/v1",
        "//example.com/v1",
        "",
        "http://",
        "http:///v1",
        "https://:8000/v1",
        "http://example.com/v1?api_key=secret",
        "http://example.com/v1?",  # an empty query still swallows the appended /chat/completions
        "http://example.com/v1#",
        "http://example.com/v1#frag",
        "http://user:pass@example.com/v1",
        "http://user@example.com/v1",
        "http://:pass@example.com/v1",
    ],
)
def test_upstream_url_rejects_bad_urls(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validation.upstream_url(value)
    assert exc.value.param == "upstream_url"


@pytest.mark.parametrize(
    "value", ["http://[::1/v1", "http://example.com:port/v1", "http://example.com:99999/v1"]
)
def test_upstream_url_rejects_unparseable_hosts_and_ports_as_validation_errors(value: str) -> None:
    # The CLI and dashboard turn ValidationError into a message; anything else is a crash.
    with pytest.raises(ValidationError):
        validation.upstream_url(value)


# -- limits ------------------------------------------------------------------------------------


def test_limit_accepts_none_and_positive_values() -> None:
    assert validation.limit(None, what="rpm") is None
    assert validation.limit(1, what="rpm") == 1


@pytest.mark.parametrize("value", [0, -1])
def test_limit_rejects_zero_and_negative(value: int) -> None:
    with pytest.raises(ValidationError) as exc:
        validation.limit(value, what="tpm")
    assert exc.value.param == "tpm"


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("15m", timedelta(minutes=15)),
        ("90s", timedelta(seconds=90)),
        ("2w", timedelta(weeks=2)),
        (" 1d ", timedelta(days=1)),
        ("007d", timedelta(days=7)),
    ],
)
def test_duration_parses(value: str, expected: timedelta) -> None:
    assert validation.duration(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "0d",
        "0s",
        "00h",
        "",
        "d",
        "30",
        "30 d",
        "-1d",
        "+1d",
        "1.5h",
        "1y",
        "30D",
        "1d2h",
        "thirty days",
        "1dd",
    ],
)
def test_duration_rejects_garbage(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validation.duration(value)
    assert exc.value.param == "expires_in"


@pytest.mark.parametrize("value", ["99999999999d", "9" * 30 + "s", "999999999w"])
def test_absurd_durations_are_validation_errors(value: str) -> None:
    with pytest.raises(ValidationError):
        validation.duration(value)


# -- CIDRs -------------------------------------------------------------------------------------


def test_cidrs_accept_and_normalise_v4_and_v6() -> None:
    values = ["10.0.0.0/8", "192.168.1.7", " 172.16.5.4/12 ", "2001:db8::/32", "::1", "2001:DB8::1/128"]
    assert validation.cidrs(values) == [
        "10.0.0.0/8",
        "192.168.1.7/32",
        "172.16.0.0/12",
        "2001:db8::/32",
        "::1/128",
        "2001:db8::1/128",
    ]


def test_cidrs_accept_an_empty_list() -> None:
    assert validation.cidrs([]) == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-an-ip",
        "10.0.0.0/33",
        "256.0.0.1",
        "10.0.0",
        "2001:db8::/129",
        "10.0.0.0/-1",
        "example.com",
        "1.2.3.4/8/1",
    ],
)
def test_cidrs_reject_invalid_entries(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validation.cidrs(["10.0.0.0/8", value])
    assert exc.value.param == "allowed_ips"


def test_cidrs_accept_exactly_the_maximum_and_reject_more() -> None:
    many = [f"10.0.{i // 256}.{i % 256}" for i in range(validation.MAX_CIDRS + 1)]
    assert len(validation.cidrs(many[: validation.MAX_CIDRS])) == validation.MAX_CIDRS
    with pytest.raises(ValidationError) as exc:
        validation.cidrs(many)
    assert exc.value.param == "allowed_ips"
