"""`serve` on an empty database prints a one-time link for the first administrator, and only then."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.processes import Xerotier


def test_first_run_link(tmp_path: Path) -> None:
    xt = Xerotier(data_dir=tmp_path / "data")
    server = xt.serve()
    try:
        match = re.search(r"(http://127\.0\.0\.1:\d+/auth/setup\?token=[A-Za-z0-9_-]+)", server.log())
        assert match, server.log()
        link = match.group(1)
        assert link.startswith(server.url)  # the link names the port serve really listens on
        with httpx.Client(base_url=server.url) as client:
            # (plain http to 127.0.0.1: the test client, unlike a browser, will not send Secure cookies
            # over http, so it checks the page only)
            page = client.get(link)
            assert page.status_code == 200 and "Create the first administrator" in page.text
    finally:
        assert server.stop() == 0

    xt.cli("users", "create", "--email", "admin@example.com", "--admin")
    second = xt.serve()
    try:
        assert "/auth/setup?token=" not in second.log()
    finally:
        assert second.stop() == 0
