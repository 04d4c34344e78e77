"""Chinese first, English second: gettext catalogs, the English text as the message id.

Pages show ``bi("Waiting for a badge")``: the zh_CN translation large, the English
below it. The catalog is ``locale/zh_CN/LC_MESSAGES/console.po``, compiled to the
``.mo`` that gettext loads; ``python -m agent.console.i18n`` compiles it again after an
edit (a test checks the two agree and every message the templates use is translated).
"""

from __future__ import annotations

import ast
import gettext
import struct
import sys
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from agent.words.terms import Term

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"
LANGUAGE = "zh_CN"


@lru_cache(maxsize=1)
def catalog() -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[LANGUAGE], fallback=True)


def zh(message: str) -> str:
    """The Chinese text of an English message id (the English itself if untranslated)."""
    return catalog().gettext(message)


def bi(message: str) -> Markup:
    """``<span class="zh">中文</span> <span class="en">English</span>`` for a template."""
    return Markup('<span class="zh">{}</span> <span class="en">{}</span>').format(
        escape(zh(message)), escape(message))


def pair(words: Term) -> Markup:
    """A ``Term`` (an identifier's words, ``agent.words.terms``) the way ``bi`` shows a message."""
    if not words.en:
        return Markup('<span class="zh">{}</span>').format(words.zh)
    return Markup('<span class="zh">{}</span> <span class="en">{}</span>').format(words.zh, words.en)


# --- compiling the catalog (what msgfmt does, for the subset a .po here uses) ---------------


def parse_po(text: str) -> dict[str, str]:
    """msgid -> msgstr of a .po file (plain entries: no plurals, no contexts)."""
    entries: dict[str, str] = {}
    current: dict[str, str] = {}
    field = ""
    for raw in [*text.splitlines(), ""]:
        line = raw.strip()
        if not line or line.startswith("#"):
            if "msgid" in current and "msgstr" in current:
                entries[current["msgid"]] = current["msgstr"]
            if not line:
                current, field = {}, ""
            continue
        if line.startswith(("msgid ", "msgstr ")):
            field, _, value = line.partition(" ")
            current[field] = ast.literal_eval(value)
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
        else:
            raise ValueError(f"unsupported .po line: {raw!r}")
    return entries


def mo_bytes(entries: dict[str, str]) -> bytes:
    """A GNU .mo file (little endian, sorted ids, no hash table) for ``entries``."""
    ids = sorted(entries)
    keys = [i.encode("utf-8") for i in ids]
    values = [entries[i].encode("utf-8") for i in ids]
    count = len(ids)
    header_size = 7 * 4
    ids_start = header_size + 16 * count
    offsets: list[tuple[int, int]] = []
    blob = b""
    for data in keys + values:
        offsets.append((len(data), ids_start + len(blob)))
        blob += data + b"\0"
    table = b"".join(struct.pack("<2I", n, o) for n, o in offsets)
    header = struct.pack("<7I", 0x950412DE, 0, count, header_size, header_size + 8 * count, 0, 0)
    return header + table + blob


def compile_catalog(language: str = LANGUAGE) -> Path:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    entries = parse_po((folder / f"{DOMAIN}.po").read_text(encoding="utf-8"))
    target = folder / f"{DOMAIN}.mo"
    target.write_bytes(mo_bytes(entries))
    return target


if __name__ == "__main__":
    print(f"wrote {compile_catalog()}", file=sys.stderr)
