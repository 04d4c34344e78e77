"""The console section: the kitchen console's station screens and manager pages."""

from __future__ import annotations

import ipaddress

from pydantic import Field, FilePath, model_validator

from agent.config.base import Strict

DEFAULT_DAILY_CHECK = [
    "从业人员着装整洁、佩戴口罩帽子 / staff dressed, masks and hats on",
    "操作间地面、台面清洁 / floors and worktops clean",
    "生熟分开、容器标识清楚 / raw and cooked kept apart, containers labelled",
    "冰箱冷库温度正常、无过期食品 / fridges in range, nothing past its date",
    "防蝇防鼠设施完好 / fly and rodent screens intact",
    "垃圾桶加盖、及时清运 / bins covered and emptied",
]


class ConsoleConfig(Strict):
    """The kitchen console: station screens and the manager's pages (HTTP)."""

    enabled: bool = Field(True, description="Serve the console (station screens, manager pages).")
    host: str = Field("127.0.0.1", description="Listen address: loopback by default; the box's LAN "
                                               "address (or 0.0.0.0) for tablets and phones.")
    port: int = Field(8080, ge=0, le=65535, description="0: any free port (tests, the demo).")
    session_idle_min: float = Field(15, ge=1, le=24 * 60, description="A manager idle this long logs in again.")
    login_attempts: int = Field(5, ge=1, le=100, description="Failed logins per client and per user name ...")
    login_window_s: float = Field(300, ge=10, le=86400, description="... within this window; then refused.")
    upload_max_kb: int = Field(4096, ge=16, le=32768, description="Largest photo accepted.")
    document_max_kb: int = Field(10240, ge=16, le=65536, description="Largest document (PDF or image) accepted: "
                                                                    "a supplier's licence, an inspection report.")
    screen_hold_s: float = Field(20, ge=2, le=600, description="A station screen shows a verdict this long, "
                                                             "then forgets the person.")
    daily_check_items: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DAILY_CHECK), min_length=1, max_length=60,
        description="常规日检: the canteen's checklist, one line per item.")
    rectification_owner: str | None = Field(
        None, max_length=64, description="整改单: the console account a new task is assigned to (the canteen's "
                                         "supervisor); unset: the supervisor role (manager) as a whole.")
    tls_cert_file: FilePath | None = Field(
        None, description="HTTPS: the box's certificate (config/certs/make-test-certs.sh -c NAME makes one "
                          "from the site CA), with its chain; required for a LAN address.")
    tls_key_file: FilePath | None = Field(None, description="HTTPS: the certificate's private key.")
    redirect_port: int | None = Field(
        None, ge=1, le=65535, description="With TLS: plain HTTP on this port only redirects to HTTPS (e.g. 80).")
    kiosk_http_port: int | None = Field(
        None, ge=0, le=65535, description="With TLS: plain HTTP on 127.0.0.1 for the station kiosks on the "
                                          "box itself (e.g. 8081; 0: any free port).")

    @model_validator(mode="after")
    def _no_plain_http_off_the_box(self) -> ConsoleConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        ports = [p for p in (self.port, self.redirect_port, self.kiosk_http_port) if p]
        if len(ports) != len(set(ports)):
            raise ValueError("port, redirect_port and kiosk_http_port must differ")
        return self

    @property
    def held_to_loopback(self) -> bool:
        """A LAN address without a certificate: passwords would cross the kitchen's network in
        clear, so the console listens on 127.0.0.1 only (the box's own screens keep working) and
        the doctor says how to give it a certificate. Not a config error: a file that served the
        LAN in plain HTTP before must not stop the agent (records, uplink) after an upgrade."""
        return self.enabled and self.tls_cert_file is None and not _is_loopback(self.host)

    @property
    def listen_host(self) -> str:
        return "127.0.0.1" if self.held_to_loopback else self.host


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
