"""Logging for the journal: ``key=value`` text or one JSON object per line.

Messages use greppable ``key=value`` pairs; secrets and health data are never
logged in clear (card numbers are masked by the drivers, temperatures stay in the
store). Every line, tracebacks included, goes through ``redact_text`` last, so a URL
with a password in it is masked whoever logged it.
"""

from __future__ import annotations

import json
import logging
import sys

from agent.redact import redact_text


class TextFormatter(logging.Formatter):
    """The standard formatter with URL credentials masked in the whole line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"t": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "msg": redact_text(record.getMessage())}
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def stderr_handler(fmt: str = "text") -> logging.Handler:
    """A handler on stderr whose lines never carry URL credentials."""
    handler = logging.StreamHandler(sys.stderr)
    # journald adds its own timestamp; keep lines short and greppable
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter("%(levelname)s %(name)s: %(message)s"))
    return handler


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    root = logging.getLogger()
    root.handlers[:] = [stderr_handler(fmt)]
    root.setLevel(level)
    for noisy in ("pymodbus", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
