"""API key format, checksum and digest (DESIGN §6: 256 bits of randomness plus an offline checksum)."""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib

import pytest

from xerotier.security import api_keys
from xerotier.security.api_keys import ALPHABET, MalformedKeyError

SLUG = "my-proj-1"
KEY_SHAPE = re.compile(r"xero_([a-z0-9-]+)_([A-Za-z0-9]{49})")


def _b62_decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + ALPHABET.index(char)
    return value


def _b62_encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        chars.append(ALPHABET[rem])
    assert value == 0
    return "".join(reversed(chars))


def _crc_checksum(body: str) -> str:
    """The documented scheme, written independently: base62 of CRC32 over everything before it."""
    return _b62_encode(zlib.crc32(body.encode()), 6)


@pytest.fixture(scope="module")
def many_keys() -> list[str]:
    return [api_keys.generate(SLUG) for _ in range(2000)]


# -- generation --------------------------------------------------------------------------------


def test_generated_key_has_the_documented_shape() -> None:
    key = api_keys.generate(SLUG)
    match = KEY_SHAPE.fullmatch(key)
    assert match is not None, key
    assert match.group(1) == SLUG
    assert len(match.group(2)) == 49
    assert key.isascii()


def test_token_carries_256_random_bits(many_keys: list[str]) -> None:
    assert api_keys.RANDOM_BYTES == 32
    assert api_keys.RANDOM_CHARS == 43
    assert 62**43 >= 2**256  # 43 base62 characters are enough to hold 256 bits
    for key in many_keys:
        random_part = key.rsplit("_", 1)[1][:43]
        assert _b62_decode(random_part) < 2**256


def test_every_random_position_varies(many_keys: list[str]) -> None:
    # A generator that used fewer bits would leave leading characters constant ("0").
    random_parts = [key.rsplit("_", 1)[1][:43] for key in many_keys]
    for position in range(43):
        seen = {part[position] for part in random_parts}
        assert len(seen) > 40, f"position {position} only took {len(seen)} values"


def test_many_keys_are_distinct(many_keys: list[str]) -> None:
    assert len(set(many_keys)) == len(many_keys)
    assert len({key.rsplit("_", 1)[1][:43] for key in many_keys}) == len(many_keys)


def test_checksum_is_base62_crc32_of_the_body() -> None:
    # Secret scanners recognise leaked keys offline with exactly this computation.
    for _ in range(50):
        key = api_keys.generate(SLUG)
        assert key[-6:] == _crc_checksum(key[:-6])


@pytest.mark.parametrize(
    "slug",
    ["", "-abc", "abc-", "ABC", "Abc", "a_b", "a b", "a" * 41, "abc\n", "\nabc", "caf\u00e9", "a.b"],
)
def test_generate_refuses_an_invalid_slug(slug: str) -> None:
    with pytest.raises(ValueError):
        api_keys.generate(slug)


@pytest.mark.parametrize("slug", ["a", "0", "a" * 40, "a-b", "a--b", "p1"])
def test_generate_accepts_boundary_slugs(slug: str) -> None:
    assert api_keys.parse(api_keys.generate(slug)).slug == slug


# -- parsing -----------------------------------------------------------------------------------


def test_parse_round_trips() -> None:
    for slug in ("a", SLUG, "x" * 40):
        key = api_keys.generate(slug)
        parsed = api_keys.parse(key)
        assert parsed.slug == slug
        assert f"xero_{parsed.slug}_{parsed.token}" == key
        assert parsed.display_prefix == key[: len(f"xero_{slug}_") + 6]
        assert key.startswith(parsed.display_prefix)


def test_every_single_character_substitution_is_rejected() -> None:
    for _ in range(5):
        key = api_keys.generate(SLUG)
        for position, original in enumerate(key):
            for replacement in ALPHABET:
                if replacement == original:
                    continue
                changed = key[:position] + replacement + key[position + 1 :]
                with pytest.raises(MalformedKeyError):
                    api_keys.parse(changed)


def test_separator_substitutions_are_rejected() -> None:
    key = api_keys.generate(SLUG)
    for position in range(len(key)):
        for replacement in "_-":
            if key[position] == replacement:
                continue
            changed = key[:position] + replacement + key[position + 1 :]
            with pytest.raises(MalformedKeyError):
                api_keys.parse(changed)


def _valid_body_and_token() -> tuple[str, str]:
    key = api_keys.generate(SLUG)
    token = key.rsplit("_", 1)[1]
    return key, token


@pytest.mark.parametrize("prefix", ["", "xero", "xero-", "Xero_", "XERO_", "xera_", "sk-", " xero_"])
def test_wrong_prefix_is_malformed(prefix: str) -> None:
    key, _ = _valid_body_and_token()
    with pytest.raises(MalformedKeyError):
        api_keys.parse(prefix + key[len("xero_") :])


def test_underscore_in_slug_is_malformed_even_with_a_valid_checksum() -> None:
    body = "xero_my_proj_" + "A" * 43
    with pytest.raises(MalformedKeyError):
        api_keys.parse(body + _crc_checksum(body))


def test_uppercase_slug_is_malformed_even_with_a_valid_checksum() -> None:
    body = "xero_MyProj_" + "A" * 43
    with pytest.raises(MalformedKeyError):
        api_keys.parse(body + _crc_checksum(body))


@pytest.mark.parametrize("length", [0, 1, 42, 43, 48, 50, 60])
def test_wrong_token_length_is_malformed(length: int) -> None:
    body = f"xero_{SLUG}_" + "B" * max(0, length - 6)
    key = body + _crc_checksum(body)[: min(6, length)]
    assert len(key.rsplit("_", 1)[1]) == length
    with pytest.raises(MalformedKeyError):
        api_keys.parse(key)


@pytest.mark.parametrize("intruder", ["\u00e9", "\uff10", "\u0661", "\u212a", " ", "\n", "\x00", "+", "/"])
def test_non_alphanumeric_or_non_ascii_token_characters_are_malformed(intruder: str) -> None:
    key, _ = _valid_body_and_token()
    for position in (len(key) - 49, len(key) - 20, len(key) - 1):
        with pytest.raises(MalformedKeyError):
            api_keys.parse(key[:position] + intruder + key[position + 1 :])


def test_non_ascii_slug_with_valid_checksum_is_malformed() -> None:
    body = "xero_caf\u00e9_" + "C" * 43
    with pytest.raises(MalformedKeyError):
        api_keys.parse(body + _crc_checksum(body))


@pytest.mark.parametrize("suffix", ["\n", " ", "\r\n", "\t"])
def test_trailing_whitespace_is_rejected(suffix: str) -> None:
    key, _ = _valid_body_and_token()
    with pytest.raises(MalformedKeyError):
        api_keys.parse(key + suffix)


def test_slug_with_trailing_newline_is_rejected_even_with_a_valid_checksum() -> None:
    # ``$`` in a regex also matches before a final newline; the slug must be matched whole.
    body = "xero_abc\n_" + "D" * 43
    with pytest.raises(MalformedKeyError):
        api_keys.parse(body + _crc_checksum(body))


@pytest.mark.parametrize("text", ["", "xero_", "xero__", "xero_abc_", "xero_abc", "_" * 60])
def test_degenerate_strings_are_malformed(text: str) -> None:
    with pytest.raises(MalformedKeyError):
        api_keys.parse(text)


def test_malformed_key_error_is_a_value_error() -> None:
    assert issubclass(MalformedKeyError, ValueError)


# -- digest ------------------------------------------------------------------------------------


def test_digest_is_a_32_byte_hmac_sha256_under_the_pepper() -> None:
    key = api_keys.generate(SLUG)
    pepper = b"p" * 32
    value = api_keys.digest(pepper, key)
    assert isinstance(value, bytes)
    assert len(value) == 32
    assert value == hmac.new(pepper, key.encode(), hashlib.sha256).digest()


def test_digest_is_deterministic_for_a_pepper() -> None:
    key = api_keys.generate(SLUG)
    assert api_keys.digest(b"pepper-one", key) == api_keys.digest(b"pepper-one", key)


def test_digest_differs_across_peppers_and_keys() -> None:
    key, other = api_keys.generate(SLUG), api_keys.generate(SLUG)
    assert api_keys.digest(b"pepper-one", key) != api_keys.digest(b"pepper-two", key)
    assert api_keys.digest(b"pepper-one", key) != api_keys.digest(b"pepper-one", other)


def test_digest_does_not_contain_the_key() -> None:
    key = api_keys.generate(SLUG)
    assert key.encode() not in api_keys.digest(b"pepper", key)
