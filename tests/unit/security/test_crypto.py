"""AES-256-GCM key ring: authenticity, purpose binding and key rotation."""

from __future__ import annotations

import base64
import os

import pytest

from xerotier.security.crypto import NONCE_BYTES, DecryptionError, KeyRing, parse_key_spec

AAD = b"endpoint.upstream_api_key"
KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))


def _ring(**keys: bytes) -> KeyRing:
    return KeyRing(keys, next(iter(keys)))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _split(value: str) -> tuple[str, str, bytes]:
    version, kid, blob = value.split(".", 2)
    return version, kid, base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))


# -- round trip --------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", ["sk-upstream-secret", "", "\u00e9\u00e8 \U0001f511", "x" * 10_000])
def test_round_trip(plaintext: str) -> None:
    ring = _ring(a=KEY_A)
    value = ring.encrypt(plaintext, aad=AAD)
    assert ring.decrypt(value, aad=AAD) == plaintext


def test_ciphertext_names_version_and_primary_key_and_hides_the_plaintext() -> None:
    ring = _ring(a=KEY_A)
    value = ring.encrypt("sk-upstream-secret", aad=AAD)
    version, kid, raw = _split(value)
    assert (version, kid) == ("v1", "a")
    assert "sk-upstream-secret" not in value
    assert b"sk-upstream-secret" not in raw
    # nonce || ciphertext || 16-byte tag
    assert len(raw) == NONCE_BYTES + len("sk-upstream-secret") + 16


def test_two_encryptions_of_the_same_plaintext_differ() -> None:
    ring = _ring(a=KEY_A)
    values = [ring.encrypt("same", aad=AAD) for _ in range(50)]
    assert len(set(values)) == 50
    nonces = {_split(v)[2][:NONCE_BYTES] for v in values}
    assert len(nonces) == 50
    assert all(ring.decrypt(v, aad=AAD) == "same" for v in values)


# -- failures ----------------------------------------------------------------------------------


def test_wrong_aad_fails() -> None:
    ring = _ring(a=KEY_A)
    value = ring.encrypt("secret", aad=AAD)
    for other in (b"", b"totp.secret", AAD + b"x", AAD[:-1]):
        with pytest.raises(DecryptionError):
            ring.decrypt(value, aad=other)


def test_every_flipped_bit_position_in_nonce_ciphertext_and_tag_fails() -> None:
    ring = _ring(a=KEY_A)
    value = ring.encrypt("secret value", aad=AAD)
    version, kid, raw = _split(value)
    for index in range(len(raw)):
        for bit in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[index] ^= bit
            with pytest.raises(DecryptionError):
                ring.decrypt(f"{version}.{kid}.{_b64(bytes(tampered))}", aad=AAD)


def test_truncated_or_extended_ciphertext_fails() -> None:
    ring = _ring(a=KEY_A)
    version, kid, raw = _split(ring.encrypt("secret value", aad=AAD))
    for cut in (0, 1, NONCE_BYTES, NONCE_BYTES + 15, len(raw) - 1):
        with pytest.raises(DecryptionError):
            ring.decrypt(f"{version}.{kid}.{_b64(raw[:cut])}", aad=AAD)
    with pytest.raises(DecryptionError):
        ring.decrypt(f"{version}.{kid}.{_b64(raw + b'x')}", aad=AAD)


def test_same_key_id_with_different_key_material_fails() -> None:
    value = _ring(a=KEY_A).encrypt("secret", aad=AAD)
    with pytest.raises(DecryptionError):
        _ring(a=KEY_B).decrypt(value, aad=AAD)


def test_unknown_key_id_fails() -> None:
    value = _ring(a=KEY_A).encrypt("secret", aad=AAD)
    with pytest.raises(DecryptionError):
        _ring(b=KEY_B).decrypt(value, aad=AAD)


def test_key_id_cannot_be_swapped_to_another_ring_member() -> None:
    ring = KeyRing({"a": KEY_A, "b": KEY_B}, "a")
    _, _, blob = ring.encrypt("secret", aad=AAD).split(".", 2)
    with pytest.raises(DecryptionError):
        ring.decrypt(f"v1.b.{blob}", aad=AAD)


@pytest.mark.parametrize(
    "value", ["", "garbage", "v1", "v1.a", "v2.a.AAAA", "V1.a.AAAA", "v1..AAAA", "v1.a.!!!!"]
)
def test_malformed_values_fail_with_decryption_error(value: str) -> None:
    with pytest.raises(DecryptionError):
        _ring(a=KEY_A).decrypt(value, aad=AAD)


def test_other_version_with_a_valid_blob_fails() -> None:
    ring = _ring(a=KEY_A)
    _, kid, blob = ring.encrypt("secret", aad=AAD).split(".", 2)
    with pytest.raises(DecryptionError):
        ring.decrypt(f"v2.{kid}.{blob}", aad=AAD)


def test_decryption_error_is_a_value_error() -> None:
    assert issubclass(DecryptionError, ValueError)


# -- rotation ----------------------------------------------------------------------------------


def test_rotation_keeps_old_values_readable_and_encrypts_new_ones_under_the_new_primary() -> None:
    old_ring = KeyRing({"a": KEY_A}, "a")
    old_value = old_ring.encrypt("old secret", aad=AAD)

    rotated = KeyRing({"a": KEY_A, "b": KEY_B}, "b")
    assert rotated.primary == "b"
    assert rotated.decrypt(old_value, aad=AAD) == "old secret"

    new_value = rotated.encrypt("new secret", aad=AAD)
    assert new_value.startswith("v1.b.")
    assert rotated.decrypt(new_value, aad=AAD) == "new secret"
    with pytest.raises(DecryptionError):
        old_ring.decrypt(new_value, aad=AAD)  # the old ring does not know key b

    retired = KeyRing({"b": KEY_B}, "b")
    assert retired.decrypt(new_value, aad=AAD) == "new secret"
    with pytest.raises(DecryptionError):
        retired.decrypt(old_value, aad=AAD)  # key a was dropped from the ring


# -- construction ------------------------------------------------------------------------------


def test_primary_must_be_in_the_ring() -> None:
    with pytest.raises(ValueError):
        KeyRing({"a": KEY_A}, "b")


@pytest.mark.parametrize("kid", ["", "a.b", "."])
def test_key_ids_must_be_non_empty_without_dots(kid: str) -> None:
    with pytest.raises(ValueError):
        KeyRing({kid: KEY_A}, kid)


@pytest.mark.parametrize("length", [0, 16, 24, 31, 33, 64])
def test_keys_must_be_32_bytes(length: int) -> None:
    with pytest.raises(ValueError):
        KeyRing({"a": os.urandom(length)}, "a")


# -- parse_key_spec ----------------------------------------------------------------------------


def test_parse_key_spec_keeps_order_so_the_first_is_the_primary() -> None:
    spec = f"k2:{_b64(KEY_B)}, k1:{base64.urlsafe_b64encode(KEY_A).decode()}"
    keys = parse_key_spec(spec)
    assert list(keys) == ["k2", "k1"]
    assert keys == {"k2": KEY_B, "k1": KEY_A}
    ring = KeyRing(keys, next(iter(keys)))
    assert ring.encrypt("x", aad=AAD).startswith("v1.k2.")


def test_parse_key_spec_ignores_empty_items() -> None:
    assert parse_key_spec(f" ,k1:{_b64(KEY_A)},, ") == {"k1": KEY_A}
    assert parse_key_spec("") == {}


@pytest.mark.parametrize("spec", ["k1", f"k1{_b64(KEY_A)}", f"k1:{_b64(KEY_A)},k2"])
def test_parse_key_spec_requires_id_colon_key(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_key_spec(spec)


@pytest.mark.parametrize("b64", ["A", "AAAAA", "abcde"])
def test_parse_key_spec_rejects_undecodable_base64(b64: str) -> None:
    with pytest.raises(ValueError):
        parse_key_spec(f"k1:{b64}")


def test_parse_key_spec_output_with_a_short_key_is_refused_by_the_ring() -> None:
    keys = parse_key_spec(f"k1:{_b64(b'short')}")
    with pytest.raises(ValueError):
        KeyRing(keys, "k1")
