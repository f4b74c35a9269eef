"""Transport rules in production: HTTPS only (never a redirect), HSTS, trusted proxies, security
headers, refusing to start without a real secret — in process, and once with a real TLS server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.functional.conftest import MakeDashboard
from tests.support.dashboard import PASSWORD, SECRET_KEY, Browser, Dashboard
from tests.support.processes import ROOT, clean_env, free_port
from xerotier.app import create_app
from xerotier.errors import ConfigurationError
from xerotier.settings import Settings

ONE_YEAR = 365 * 24 * 3600
pytestmark = pytest.mark.usefixtures("clean_environment")


def hsts_max_age(response: httpx.Response) -> int:
    value = response.headers.get("strict-transport-security", "")
    found = re.search(r"max-age=(\d+)", value)
    assert found, f"no HSTS on {response.request.method} {response.request.url} ({response.status_code})"
    return int(found.group(1))


def assert_refused_plain_http(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert "strict-transport-security" not in response.headers  # HSTS over plain HTTP means nothing


@pytest.fixture
async def production(make_dashboard: MakeDashboard) -> Dashboard:
    return await make_dashboard(env="production")


async def test_production_refuses_plain_http_pages_with_an_error_page_not_a_redirect(
    production: Dashboard,
) -> None:
    plain = await production.browser(base_url="http://testserver")
    for path in ("/", "/auth/login", "/account", "/projects", "/no-such-page"):
        response = await plain.get(path)
        assert_refused_plain_http(response)
        assert response.headers["content-type"].startswith("text/html")
        assert "HTTPS" in response.text

    response = await plain.client.post(
        "/auth/login", data={"email": "a@example.com", "password": PASSWORD}, headers={"accept": "text/html"}
    )
    assert_refused_plain_http(response)
    assert await production.count("audit_events") == 0


async def test_production_refuses_plain_http_inference_with_an_openai_error(production: Dashboard) -> None:
    plain = await production.browser(base_url="http://testserver")
    for method, path in [
        ("POST", "/proj_x/ep/v1/chat/completions"),
        ("GET", "/proj_x/v1/models"),
        ("GET", "/api/account/sessions"),
    ]:
        response = await plain.client.request(
            method,
            path,
            headers={"authorization": "Bearer xero_alpha_secret"},
            json={"model": "m", "messages": []} if method == "POST" else None,
        )
        assert_refused_plain_http(response)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] == "https_required"
        assert set(error) == {"message", "type", "code", "param"}


async def test_health_probes_answer_over_plain_http(production: Dashboard) -> None:
    plain = await production.browser(base_url="http://testserver")
    assert (await plain.client.get("/healthz")).json() == {"status": "ok"}
    ready = await plain.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_every_https_response_carries_hsts_for_at_least_a_year(production: Dashboard) -> None:
    await production.create_user("alice@example.com")
    browser = await production.browser()
    responses = [
        await browser.get("/auth/login"),
        await browser.get("/"),  # redirect
        await browser.get("/no-such-page"),  # 404 page
        await browser.client.get("/static/app.css"),
        await browser.client.get("/healthz"),
        await browser.client.get("/api/account/sessions"),  # 401 JSON
        await browser.client.post("/auth/login", data={"email": "x@example.com"}),  # CSRF 403
        await browser.client.post("/proj_x/ep/v1/chat/completions", json={}),  # inference 401
        await production.sign_in(browser, "alice@example.com"),
        await browser.get("/account"),
    ]
    statuses = {r.status_code for r in responses}
    assert {200, 303, 401, 403, 404} <= statuses
    for response in responses:
        assert hsts_max_age(response) >= ONE_YEAR


async def test_pages_send_security_headers(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    browser = await dashboard.browser()
    pages = [
        await browser.get("/auth/login"),
        await browser.get("/no-such-page"),
        await browser.client.post("/auth/register", headers={"accept": "text/html"}),  # CSRF refusal
    ]
    await dashboard.sign_in(browser, "alice@example.com")
    pages += [await browser.get("/account"), await browser.get("/projects")]
    for page in pages:
        csp = page.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, (page.request.url, csp)
        assert page.headers.get("x-content-type-options") == "nosniff"
        assert page.headers.get("referrer-policy") in (
            "same-origin",
            "no-referrer",
            "strict-origin-when-cross-origin",
        )
        assert page.headers.get("cache-control") == "no-store"


def proxied(browser: Browser) -> Browser:
    """The client speaks plain HTTP to the app, like a TLS-terminating proxy does. Secure cookies are
    forwarded by hand (a client library only sends them over https)."""

    async def add_cookies(request: httpx.Request) -> None:
        jar = "; ".join(f"{c.name}={c.value}" for c in browser.client.cookies.jar)
        if jar:
            request.headers["cookie"] = jar

    browser.client.event_hooks["request"] = [add_cookies]
    return browser


async def test_forwarded_headers_are_believed_only_from_trusted_proxies(
    make_dashboard: MakeDashboard,
) -> None:
    dash = await make_dashboard(env="production", trusted_proxies="127.0.0.1")
    await dash.create_user("alice@example.com")

    via_proxy = proxied(
        await dash.browser(
            ip="127.0.0.1",
            base_url="http://testserver",
            headers={"x-forwarded-proto": "https", "x-forwarded-for": "192.0.2.200, 198.51.100.23"},
        )
    )
    page = await via_proxy.get("/auth/login")
    assert page.status_code == 200
    assert hsts_max_age(page) >= ONE_YEAR
    signed_in = await dash.sign_in(via_proxy, "alice@example.com")
    assert signed_in.status_code == 303, signed_in.text
    account = await via_proxy.get("/account")
    assert account.status_code == 200
    # The right-most address not belonging to a trusted proxy is the client.
    assert '<td class="mono">198.51.100.23</td>' in account.text

    spoofing = await dash.browser(
        ip="203.0.113.50",
        base_url="http://testserver",
        headers={"x-forwarded-proto": "https", "x-forwarded-for": "127.0.0.1"},
    )
    assert_refused_plain_http(await spoofing.get("/auth/login"))

    direct = await dash.browser(ip="203.0.113.50", headers={"x-forwarded-for": "192.0.2.99"})
    assert (await dash.sign_in(direct, "alice@example.com")).status_code == 303
    listed = (await direct.client.get("/api/account/sessions")).json()
    mine = next(s for s in listed if s["current"])
    assert mine["ip"] == "203.0.113.50"


async def test_without_trusted_proxies_forwarded_headers_change_nothing(production: Dashboard) -> None:
    plain = await production.browser(
        ip="127.0.0.1", base_url="http://testserver", headers={"x-forwarded-proto": "https"}
    )
    assert_refused_plain_http(await plain.get("/auth/login"))


@pytest.mark.parametrize("secret_key", [None, "", "changeme", "please-change-me", "short-but-real-32"])
def test_production_refuses_to_start_without_a_real_secret_key(
    tmp_path: Path, secret_key: str | None
) -> None:
    settings = Settings(
        env="production", data_dir=tmp_path, secret_key=secret_key, public_url="https://xerotier.example"
    )
    with pytest.raises(ConfigurationError, match="XEROTIER_SECRET_KEY"):
        create_app(settings)
    assert not (tmp_path / "secret_key").exists()  # production never invents a key


def test_production_refuses_to_start_without_a_public_url(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path, secret_key=SECRET_KEY)
    with pytest.raises(ConfigurationError, match="PUBLIC_URL"):
        create_app(settings)


# -- a real server terminating TLS itself -------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_serve_terminates_tls_itself_and_sends_hsts(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    env = {
        **clean_env(),
        "XEROTIER_ENV": "production",
        "XEROTIER_SECRET_KEY": SECRET_KEY,
        "XEROTIER_DATA_DIR": str(tmp_path / "data"),
        "XEROTIER_PUBLIC_URL": base,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xerotier",
                "serve",
                "--port",
                str(port),
                "--tls-cert",
                str(cert),
                "--tls-key",
                str(key),
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        with httpx.Client(base_url=base, verify=trust, timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{log.read_text()}"
                try:
                    health = client.get("/healthz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, f"no HTTPS on {base}:\n{log.read_text()}"
                    time.sleep(0.1)
            assert health.status_code == 200
            assert hsts_max_age(health) >= ONE_YEAR

            page = client.get("/auth/login", headers={"accept": "text/html"})
            assert page.status_code == 200
            assert hsts_max_age(page) >= ONE_YEAR
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert "Secure" in page.headers["set-cookie"]

            api = client.post("/proj_x/ep/v1/chat/completions", json={})
            assert api.status_code == 401
            assert hsts_max_age(api) >= ONE_YEAR
        with httpx.Client(timeout=5) as plain, pytest.raises(httpx.HTTPError):
            plain.get(f"http://127.0.0.1:{port}/auth/login").raise_for_status()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        print(f"serve exited with {code}; its log:\n{log.read_text()}")  # shown when the test fails
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()
