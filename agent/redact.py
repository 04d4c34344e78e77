"""Credentials out of everything the agent prints: logs, doctor, errors, status.

Camera and broker URLs carry passwords (``rtsp://admin:secret@10.0.0.5/stream``).
Every place that shows a URL or a message that may contain one passes it through
here, so there is one rule for what a password looks like.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://... up to the next whitespace (not a quote: a password may contain one)
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")


def redact_url(url: str) -> str:
    """``url`` with its user-info (user name and password) replaced by ``***``.

    Parsed with urllib.parse. A password that contains ``/``, ``?`` or ``#`` unescaped
    (cameras accept them, RFC 3986 does not) makes the parser end the authority early,
    leaving an ``@`` in the path: then everything up to the last ``@`` is taken as
    user-info. Hiding a path that merely contains ``@`` is the price of never leaking.
    """
    if "@" not in url or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    rest = (parts.path + parts.query + parts.fragment) if parts else url
    if parts is not None and "@" in parts.netloc and "@" not in rest:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))
    scheme, _, after = url.partition("://")
    return f"{scheme}://{MASK}@{after.rpartition('@')[2]}"


def redact_text(text: str) -> str:
    """Every URL inside ``text`` redacted (log lines, error messages, exception texts)."""
    if "@" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
