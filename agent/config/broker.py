"""The broker section: where the uplink connects, how it authenticates, how it resends, whose commands it takes."""

from __future__ import annotations

import binascii
import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath, SecretStr, model_validator

from agent.command_contract import load_public_key
from agent.config.base import Strict, read_secret
from drivers.config_types import (
    MqttKeepalive,
    MqttReceiveMaximum,
    MqttSessionExpiry,
    Port,
    PositiveSeconds,
)


class TlsConfig(Strict):
    ca_file: FilePath | None = Field(None, description="CA bundle that signed the broker's certificate.")
    cert_file: FilePath | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: FilePath | None = Field(None, description="Client private key (mutual TLS).")
    server_name: str | None = Field(None, description="Expected name in the broker certificate, if not the host.")

    @model_validator(mode="after")
    def _files_load(self) -> TlsConfig:
        """The uplink builds its TLS context from these files at every connect: a file
        that exists but is no CA bundle or key would fail there, so load them here."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(self.ca_file))
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"ca_file {self.ca_file} is not a readable PEM CA bundle ({exc})") from None
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file (mutual TLS uses both)")
        if self.cert_file is not None:
            try:
                context.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"cert_file/key_file do not load as a certificate and its key ({exc})") from None
        return self


class BrokerConfig(Strict):
    host: str = Field("127.0.0.1", description="MQTT broker host.")
    port: Port = 1883
    addresses: list[str] = Field(
        default_factory=list,
        description="Several brokers of one cluster, as host or host:port (port defaults to `port`): the "
                    "agent connects to one and fails over to the next when it cannot reach it. "
                    "Replaces host; leave host unset.")
    protocol: Literal["mqtt5", "mqtt311", "auto"] = Field(
        "auto", description="auto tries MQTT 5 and falls back to 3.1.1.")
    topic_prefix: str = Field("scfs/v1", description="Topics are <prefix>/<agent_id>/...")
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="Read the password from this file.")
    tls: TlsConfig | None = Field(None, description="TLS settings; required off loopback.")
    allow_plaintext_remote: bool = Field(
        False, description="Permit plaintext to a non-loopback broker (logged at every connect).")
    keepalive_s: MqttKeepalive = Field(30, ge=5, le=3600)
    session_expiry_s: MqttSessionExpiry = Field(
        7 * 86400, ge=86400, description="Persistent session lifetime (>= 1 day, MQTT's 32-bit limit at most).")
    ack_mode: Literal["platform", "puback"] = Field(
        "platform", description="platform: items leave the outbox on <root>/ack; puback: on broker PUBACK.")
    inflight_max: MqttReceiveMaximum = Field(64, description="Publishes awaiting PUBACK at once (capped by the broker's receive maximum).")
    ack_timeout_s: PositiveSeconds = Field(60, description="Resend an item the platform has not acked in this time.")
    resend_max_s: float = Field(
        3600, gt=0, le=7 * 86400,
        description="Each resend of an unacked item doubles its wait (from ack_timeout_s) up to this.")
    resend_max_bytes_per_min: int = Field(
        256 * 1024, ge=1024, le=1024 ** 3,
        description="Bytes of resends (items the platform has not acked) allowed per minute.")
    reconnect_min_s: PositiveSeconds = 1.0
    reconnect_max_s: PositiveSeconds = 60.0
    status_interval_s: PositiveSeconds = Field(60.0, description="Retained status refresh period.")
    platform_public_key: str | None = Field(
        None, description="Ed25519 public key (base64 raw or PEM) that signs platform commands.")
    platform_public_key_file: Path | None = None
    config_trial_s: float = Field(
        120, ge=1, le=3600,
        description="A config from set_config is rolled back unless the agent reaches the broker with it this soon.")
    command_max_validity_s: float = Field(
        3600, gt=0, le=7 * 86400,
        description="A command valid longer than this (expires_at - issued_at) is refused.")
    command_clock_skew_s: float = Field(
        300, ge=0, le=86400, description="A command issued further than this in our future is refused.")

    @model_validator(mode="after")
    def _addresses_parse(self) -> BrokerConfig:
        if self.addresses and "host" in self.model_fields_set:
            raise ValueError("give either broker.host or broker.addresses, not both")
        if len(set(self.endpoints())) != len(self.endpoints()):
            raise ValueError("broker.addresses lists the same broker twice")
        return self

    def endpoints(self) -> list[tuple[str, int]]:
        """Every broker address, in the order tried: ``addresses``, else ``host:port``."""
        if not self.addresses:
            return [(self.host, self.port)]
        return [parse_address(a, self.port) for a in self.addresses]

    @model_validator(mode="after")
    def _secrets_from_files(self) -> BrokerConfig:
        if self.password_file is not None:
            self.password = SecretStr(read_secret(self.password_file))
        if self.platform_public_key_file is not None:
            self.platform_public_key = read_secret(self.platform_public_key_file)
        if self.platform_public_key:
            _check_public_key(self.platform_public_key)
        return self


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port); ValueError when malformed."""
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"broker address {text!r}: write [IPv6]:port")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"broker address {text!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"broker address {text!r}: no host name")
    return host, port


def _check_public_key(text: str) -> None:
    """The uplink decodes the key when it starts; a key it cannot decode is a config error."""
    try:
        load_public_key(text)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("platform_public_key is not an Ed25519 public key "
                         f"(base64 of 32 bytes, or PEM): {exc}") from None
