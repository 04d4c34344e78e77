"""The console over HTTPS with the site CA's box certificate (config/certs/make-test-certs.sh
-c): Debian's chromium, trusting exactly that certificate's key, logs in; the session
cookie is Secure, answers carry HSTS; plain HTTP on the LAN port only redirects to HTTPS;
the station kiosk on the box keeps plain HTTP on loopback; a LAN address without TLS is
held to loopback, and the doctor says how to give the console a certificate."""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.config.console import ConsoleConfig
from agent.ops.doctor.host import check_console
from simulator.platform.broker import free_port
from tests.fixtures_console import (  # noqa: F401
    CHROMIUM,
    CHROMIUM_ARGS,
    MANAGER,
    PASSWORD,
    STATION,
    Kitchen,
    broker_fixture,
    platform_fixture,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    out = tmp_path / "pki"
    subprocess.run(["bash", str(REPO / "config/certs/make-test-certs.sh"), "-c", "kitchen.local", "-c", "127.0.0.1",
                    str(out)], check=True, capture_output=True)
    return out


def spki_sha256(cert: Path) -> str:
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_a_lan_console_without_tls_listens_on_loopback_only_and_the_doctor_says_why(tmp_path, broker, platform):
    # An older file with a LAN console and no certificate still starts the agent (records and
    # the uplink must not stop for a page), but passwords never cross the network in clear.
    assert not ConsoleConfig(host="127.0.0.1").held_to_loopback
    with pytest.raises(ValidationError, match="go together"):
        ConsoleConfig(host="0.0.0.0", tls_cert_file=str(REPO / "README.md"))
    kitchen = Kitchen(tmp_path, broker.port, host="0.0.0.0")
    try:
        assert kitchen.agent.config.console.held_to_loopback
        assert kitchen.console.host == "127.0.0.1"
        check = check_console(kitchen.agent.config, beside=False)
        assert not check.ok and "127.0.0.1 only" in check.detail and "tls_cert_file" in check.fix
    finally:
        kitchen.close()


def test_login_over_https_secure_cookie_hsts_redirect_and_kiosk(tmp_path, broker, platform, pki):
    redirect = free_port()
    kitchen = Kitchen(tmp_path, broker.port, tls_cert_file=str(pki / "console.crt"),
                      tls_key_file=str(pki / "console.key"), redirect_port=redirect, kiosk_http_port=0)
    try:
        https = f"https://127.0.0.1:{kitchen.console.port}"
        # a client that trusts the site CA gets HSTS
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        conn = http.client.HTTPSConnection("127.0.0.1", kitchen.console.port, context=context, timeout=10)
        conn.request("GET", "/login")
        answer = conn.getresponse()
        assert answer.status == 200 and answer.getheader("Strict-Transport-Security") == "max-age=31536000"
        # plain HTTP on the LAN port: only a redirect to the same path over HTTPS
        plain = http.client.HTTPConnection("127.0.0.1", redirect, timeout=10)
        plain.request("GET", "/manager/today")
        moved = plain.getresponse()
        assert moved.status == 308 and moved.getheader("Location") == f"{https}/manager/today"
        # the kiosk on the box: plain HTTP on loopback, no HSTS
        kiosk = http.client.HTTPConnection("127.0.0.1", kitchen.console.kiosk_port, timeout=10)
        kiosk.request("GET", f"/station/{STATION}")
        shown = kiosk.getresponse()
        assert shown.status == 200 and shown.getheader("Strict-Transport-Security") is None

        from playwright.sync_api import sync_playwright

        pin = f"--ignore-certificate-errors-spki-list={spki_sha256(pki / 'console.crt')}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, pin], headless=True)
            try:
                page = browser.new_page(locale="zh-CN")
                page.goto(f"{https}/login")
                page.fill("input[name=name]", MANAGER)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{https}/manager/**")
                cookies = page.context.cookies()
                assert cookies and all(c["secure"] and c["httpOnly"] for c in cookies)
            finally:
                browser.close()
    finally:
        kitchen.close()
