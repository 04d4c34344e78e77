"""The TLS context for the broker connection, shared by the uplink and the doctor.

Brokers are often reached by an address that is not the name in their certificate (a
4G router's forwarded IP, a DNS name the site cannot resolve). ``broker.tls.server_name``
says which name to verify (and send as SNI) instead of ``broker.host``; verification
itself is never switched off.
"""

from __future__ import annotations

import ssl
from typing import Any

from agent.config.broker import TlsConfig


class _ExpectedNameContext(ssl.SSLContext):
    """Verifies the peer against a fixed name, whatever host the socket was opened to.

    paho passes its connect host to ``wrap_socket``; this is the one place to change it.
    """

    expected_name: str

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["server_hostname"] = self.expected_name
        return super().wrap_socket(sock, *args, **kwargs)


def broker_tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """A client context: certificate and host name verified, TLS 1.2 at least, client
    certificate loaded for mutual TLS when configured."""
    if tls.server_name:
        context: ssl.SSLContext = _ExpectedNameContext(ssl.PROTOCOL_TLS_CLIENT)
        context.expected_name = tls.server_name  # type: ignore[attr-defined]
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.ca_file:
        context.load_verify_locations(cafile=str(tls.ca_file))
    else:
        context.load_default_certs()
    if tls.cert_file:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    return context
