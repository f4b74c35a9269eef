"""Revocation from another process (the CLI beside `serve`) takes effect within a second, for good."""

from __future__ import annotations

import time

import openai
import pytest

from tests.e2e.conftest import Stack

MESSAGES = [{"role": "user", "content": "hi"}]


def test_revoke_from_cli_reaches_running_gateway(stack: Stack) -> None:
    key = stack.create_key("alpha", "to-revoke")
    client = stack.client(key)
    client.chat.completions.create(model="m", messages=MESSAGES)  # now cached in the gateway

    out = stack.xt.cli("keys", "revoke", stack.key_ids["to-revoke"]).stdout
    assert f"revoked {stack.key_ids['to-revoke']}" in out
    revoked_at = time.monotonic()
    while True:
        try:
            client.chat.completions.create(model="m", messages=MESSAGES)
        except openai.AuthenticationError as exc:
            assert "revoked" in exc.message
            break
        assert time.monotonic() - revoked_at < 1.0, "revocation took longer than 1 s to apply"
        time.sleep(0.02)

    time.sleep(0.5)
    for _ in range(3):  # and it stays revoked
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="m", messages=MESSAGES)
    again = stack.xt.cli("keys", "revoke", stack.key_ids["to-revoke"]).stdout
    assert "already revoked" in again

    listed = stack.xt.cli("keys", "list", "--project", "alpha", "--json").stdout
    import json

    entry = next(k for k in json.loads(listed) if k["id"] == stack.key_ids["to-revoke"])
    assert entry["revoked_at"] is not None
    assert set(entry) >= {
        "id",
        "name",
        "prefix",
        "environment",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    }
    assert entry["last_used_at"] is not None


def test_revoking_unknown_key_fails_clearly(stack: Stack) -> None:
    result = stack.xt.cli("keys", "revoke", "key_doesnotexist000", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no API key 'key_doesnotexist000'"
