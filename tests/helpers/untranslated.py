"""Find what a person should never read: identifiers, ids, JSON, OS errors, English alone.

``untranslated(text)`` returns the offending snippets of a page's or a command's text:

- an identifier (``store_room``, ``camera_offline``, ``routine_daily_check``);
- a record's UUID, JSON (``{"``), ``key=value``, an escaped ``\\uXXXX``, ``[Errno``, a traceback;
- a line with English words but no Chinese (``breakfast: 420``, ``3/3 dishes``); ids with a
  digit, a hyphen or a dot (``mc-1``, ``thermo-mc``) are names, not words;
- a word of the agent's vocabulary (a meal, a room, a device state, an alarm kind)
  without its Chinese before it on the line (``kitchen`` alone, ``disconnected``).

For a page, pass the text without its English halves (``.en``: they sit beside their
Chinese) as ``chinese_side`` so bilingual pairs laid out on two lines are not mistaken
for English alone; elements marked ``.raw`` (the raw envelope, the doctor's table) and
``.name`` (an account's name) are left out by the caller.
"""

from __future__ import annotations

import re

from agent.records.findings import FINDINGS
from agent.words.alarms import TITLES
from agent.words.terms import DEVICE_STATES, MEALS, ROOMS

IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
RAW = re.compile(r'\{"|":\s|\b[a-z_]+=\S|\\u[0-9a-fA-F]{4}|\[Errno|Traceback|Exception\b|Error\b')
WORD = re.compile(r"(?<![\w./-])[A-Za-z]{3,}(?![\w/-])")
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def _vocabulary() -> dict[str, set[str]]:
    """Single-word identifiers people meet, and the Chinese that must come before them."""
    found: dict[str, set[str]] = {}
    tables = [MEALS, ROOMS, DEVICE_STATES, FINDINGS, {k: v for k, v in TITLES.items()}]
    for table in tables:
        for key, words in table.items():
            if "_" in key or not key.isalpha() or len(key) < 4:
                continue
            zh = words.zh if hasattr(words, "zh") else words[0]
            found.setdefault(key, set()).add(zh)
    for key, zh in (("fever", "发热"), ("fever", "体温超标"), ("fever", "晨检体温")):
        found.setdefault(key, set()).add(zh)
    return found


VOCABULARY = _vocabulary()


def untranslated(text: str, chinese_side: str | None = None) -> list[str]:
    found: list[str] = []
    for pattern in (IDENTIFIER, UUID, RAW):
        found += [m.group(0) for m in pattern.finditer(text)]
    for line in (chinese_side if chinese_side is not None else text).splitlines():
        if WORD.search(line) and not CJK.search(line):
            found.append(line.strip())
    for line in text.splitlines():
        for word, chinese in VOCABULARY.items():
            # a value standing alone (``breakfast: 420``), not a word in a phrase (``kitchen waste``)
            for m in re.finditer(rf"(?<![\w-]){word}(?![\w-])(?!\s+[A-Za-z])", line, re.IGNORECASE):
                if not any(zh in line[:m.start()] for zh in chinese):  # its Chinese comes first
                    found.append(line.strip())
    return found


# what a page shows, as a person reads it, and its Chinese side (for ``untranslated``)
PAGE_TEXT_JS = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('script, style, .raw, .name, details:not([open]) > :not(summary)').forEach(e => e.remove());
  document.body.append(copy);
  copy.style.position = 'absolute';
  // an English half laid out below its Chinese (a big station word) reads with it
  copy.querySelectorAll('.en').forEach(e => { e.style.display = 'inline'; });
  const all = copy.innerText;
  copy.querySelectorAll('.en').forEach(e => e.remove());
  const chinese = copy.innerText;
  copy.remove();
  return [all, chinese];
}"""


def page_offences(page) -> list[str]:  # noqa: ANN001 - a Playwright page
    text, chinese = page.evaluate(PAGE_TEXT_JS)
    return untranslated(text, chinese)
