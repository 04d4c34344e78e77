"""Feedback: how the agent answers the person at a station, within a second.

A workflow calls ``feedback.say("张三 36.5 °C 合格 / OK", level="ok", station="mc-1",
log_text="morning check staff=S017 verdict=pass")``. Every configured output gets the
message, in order:

- ``ConsoleOutput``: one line with the local time on stdout, only when stdout is a
  terminal (a person runs the agent by hand): under systemd stdout is the journal, and a
  name beside a body temperature must never reach it;
- ``LogOutput``: the agent's log. Health data (a temperature next to a name) must not
  reach the journal in clear, so the log gets ``log_text`` when given, and otherwise the
  text with every temperature masked (``**.* °C``);
- the station screens of the kitchen console (``agent.console.station_feed``), or a
  buzzer: anything with ``show(message)``.

A workflow may add a ``Screen``: the structured state a station screen lays out (who,
the reading, the verdict, the next step), beside the text every output gets.

``say`` is synchronous on the dispatcher thread, so an output must return quickly: one
that talks to slow hardware queues the message and works in its own thread. A failing
output is logged and skipped; the others still answer.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TextIO

log = logging.getLogger("agent.feedback")

Level = Literal["info", "ok", "warn", "error"]
LEVELS: tuple[Level, ...] = ("info", "ok", "warn", "error")
_LOG_LEVEL = {"info": logging.INFO, "ok": logging.INFO, "warn": logging.WARNING, "error": logging.WARNING}
_CONSOLE_MARK = {"info": "  ", "ok": "✔ ", "warn": "! ", "error": "✘ "}
# 36.5 °C, 36.5°C, 36.5 ℃, 36.5C: a body temperature is health data
_TEMPERATURE = re.compile(r"[-+]?\d{1,3}(?:[.,]\d+)?\s*(?:°\s*C|℃|°|(?<=\d)C\b)")


def mask_health(text: str) -> str:
    """The text with every temperature replaced by ``**.* °C``."""
    return _TEMPERATURE.sub("**.* °C", text)


Phase = Literal["waiting", "identified", "verdict"]
# off_duty: a passing re-check of someone a failed check sent off duty earlier that day
Verdict = Literal["pass", "warn", "fail", "off_duty"]
# What the person must do now: a word each station kind names with its screen words
# (agent/stations/<kind>/__init__.py; "not_saved" is every station's), shown in both languages.
NextStep = str


@dataclass(frozen=True, slots=True)
class Screen:
    """A station's state for its screen: waiting for a badge → a person → the verdict."""

    phase: Phase
    name: str | None = None  # the current person only: a screen keeps no history
    reading: str | None = None  # "36.5 °C", "131 g"
    verdict: Verdict | None = None
    next_step: NextStep | None = None


@dataclass(frozen=True, slots=True)
class Message:
    text: str  # what the person sees
    level: Level
    station: str | None
    at: datetime
    log_text: str  # what may be written to a log (no health data in clear)
    screen: Screen | None = None


class FeedbackOutput(Protocol):
    name: str

    def show(self, message: Message) -> None: ...


def stdout_is_a_person() -> bool:
    """stdout is a terminal and not systemd's journal (which sets JOURNAL_STREAM)."""
    try:
        return sys.stdout.isatty() and not os.environ.get("JOURNAL_STREAM")
    except (AttributeError, ValueError):  # closed or replaced stdout
        return False


class ConsoleOutput:
    """``07:31:05 [mc-1] ✔ 张三 36.5 °C 合格 / OK`` on stdout (or any text stream)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def show(self, message: Message) -> None:
        stream = self._stream or sys.stdout  # resolved late: pytest swaps sys.stdout
        where = f"[{message.station}] " if message.station else ""
        line = f"{message.at:%H:%M:%S} {where}{_CONSOLE_MARK[message.level]}{message.text}\n"
        with self._lock:
            stream.write(line)
            stream.flush()


class LogOutput:
    """The masked form into the agent's log (``feedback station=... level=... text=...``)."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def show(self, message: Message) -> None:
        self._log.log(_LOG_LEVEL[message.level], "feedback station=%s level=%s text=%s",
                      message.station or "-", message.level, message.log_text)


class MemoryOutput:
    """Keeps the last messages (status pages, tests); ``wait_for`` polls with a deadline."""

    name = "memory"

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self.messages: list[Message] = []
        self._cond = threading.Condition()

    def show(self, message: Message) -> None:
        with self._cond:
            self.messages.append(message)
            del self.messages[:-self.keep]
            self._cond.notify_all()

    def texts(self, station: str | None = None) -> list[str]:
        with self._cond:
            return [m.text for m in self.messages if station is None or m.station == station]

    def wait_for(self, predicate: Callable[[Message], bool], timeout_s: float, start: int = 0) -> Message | None:
        """The first message from index ``start`` on that matches, waiting up to ``timeout_s``."""
        def find() -> Message | None:
            return next((m for m in self.messages[start:] if predicate(m)), None)

        with self._cond:
            self._cond.wait_for(find, timeout_s)
            return find()


class Feedback:
    """Fans one message out to every output; see the module docstring."""

    def __init__(self, outputs: Iterable[FeedbackOutput], now: Callable[[], datetime]) -> None:
        self.outputs: list[FeedbackOutput] = list(outputs)
        self._now = now

    @classmethod
    def default(cls, now: Callable[[], datetime]) -> Feedback:
        """The log always; stdout only for a person at a terminal (never the journal)."""
        outputs: list[FeedbackOutput] = [LogOutput()]
        if stdout_is_a_person():
            outputs.insert(0, ConsoleOutput())
        return cls(outputs, now)

    def add_output(self, output: FeedbackOutput) -> None:
        self.outputs.append(output)

    def say(self, text: str, *, level: Level = "info", station: str | None = None,
            log_text: str | None = None, screen: Screen | None = None) -> Message:
        if level not in LEVELS:
            raise ValueError(f"unknown feedback level {level!r}")
        message = Message(text=text, level=level, station=station, at=self._now(),
                          log_text=mask_health(log_text if log_text is not None else text), screen=screen)
        for output in self.outputs:
            try:
                output.show(message)
            except Exception:  # a broken screen must not silence the console
                log.exception("feedback output failed output=%s", getattr(output, "name", output))
        return message
