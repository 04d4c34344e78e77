"""A test PKI made with the ``cryptography`` package: a CA, a broker server
certificate and client certificates whose common name is the MQTT identity.

The broker uses ``use_identity_as_username``, so a client certificate's CN is the
user the ACL sees: an agent's CN is its ``agent_id``, the platform's is ``platform``.
``config/certs/make-test-certs.sh`` does the same with the openssl binary for
installers; tests use this module so they need no openssl binary.

Test keys only: they are written unencrypted and live for ``days`` days.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class TestCerts:
    """Paths of a generated test PKI (all PEM)."""

    __test__ = False  # not a pytest test class despite its name

    directory: Path
    ca: Path
    ca_key: Path
    server: CertPair
    clients: dict[str, CertPair] = field(default_factory=dict)

    def client(self, name: str) -> CertPair:
        try:
            return self.clients[name]
        except KeyError:
            raise KeyError(f"no client certificate for {name!r}; made: {sorted(self.clients)}") from None


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "canteen-agent test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew
            .not_valid_after(now + dt.timedelta(days=days)))


def _san(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def make_test_certs(directory: str | Path, clients: Iterable[str] = ("platform",), *,
                    server_names: Iterable[str] = DEFAULT_SERVER_NAMES, days: int = 30) -> TestCerts:
    """Write ca.crt/ca.key, server.crt/server.key and <client>.crt/<client>.key."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("canteen-agent test CA")
    ca_cert = (_builder(ca_name, ca_name, ca_key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    ca_path, ca_key_path = out / "ca.crt", out / "ca.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(ca_key, ca_key_path)

    def issue(stem: str, common_name: str, usage: x509.ObjectIdentifier,
              san: Iterable[str] | None) -> CertPair:
        key = _key()
        builder = (_builder(_name(common_name), ca_name, key.public_key(), days)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if san is not None:
            builder = builder.add_extension(_san(san), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        pair = CertPair(out / f"{stem}.crt", out / f"{stem}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, pair.key)
        return pair

    server_names = list(server_names)
    server = issue("server", server_names[0], ExtendedKeyUsageOID.SERVER_AUTH, server_names)
    made = {name: issue(name, name, ExtendedKeyUsageOID.CLIENT_AUTH, None) for name in clients}
    return TestCerts(out, ca_path, ca_key_path, server, made)
