"""Which characters a name or a line of free text may hold: one rule for the whole portal.

The registry (object names, aliases, notes, check arguments...), the Livestatus layer (every
value that goes into a request line) and the labels that reach logs and audit fields (token
names) all refuse the same characters, so that nothing the registry stores is an object the
status pages can never show or act on, and no name can hide what it says:

- control characters: C0 (tab, line feed...), DEL and C1 (U+0080-U+009F, with U+0085 NEXT
  LINE), and the line and paragraph separators U+2028/U+2029: each ends a line for some reader
  (Naemon's config parser, a Livestatus header, a log line);
- invisible formatting characters (Unicode category Cf): bidi embeddings, overrides and
  isolates (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F), zero-width space and joiners
  (U+200B-U+200D), word joiner (U+2060), the byte order mark (U+FEFF), soft hyphen, tags...:
  ``web01`` and ``web\\u200b01`` look alike, and U+202E shows a name backwards;
- noncharacters (U+FDD0-U+FDEF, U+xFFFE/U+xFFFF) and lone surrogates (not UTF-8 text).

A *name* (``check_name``) is such text without white space at either end and with no white
space other than U+0020, so that two names that look the same are the same.

Pure Python: the Livestatus client library imports this module, so it imports no Django.
"""

from __future__ import annotations

import re
import unicodedata

# ASCII fast path: C0 controls and DEL are the only ASCII characters refused.
_ASCII_REFUSED = re.compile("[\x00-\x1f\x7f]")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
MAX_REPORTED = 60


class UnsafeTextError(ValueError):
    """A name or text holds a character that would end a line or hide what the text says."""


def _refused(char: str) -> bool:
    code = ord(char)
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return True  # noncharacters
    return unicodedata.category(char) in _REFUSED_CATEGORIES


def first_refused(value: str) -> tuple[int, str] | None:
    """The position and character of the first character no name or text may hold, or None."""
    if value.isascii():
        match = _ASCII_REFUSED.search(value)
        return (match.start(), match.group()) if match else None
    for index, char in enumerate(value):
        if _refused(char):
            return index, char
    return None


def describe(char: str) -> str:
    """How a message names a character: ``'a'``, ``control character U+000A``, ..."""
    code = ord(char)
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):
        return f"control character U+{code:04X}"
    if category == "Cs":
        return f"lone surrogate U+{code:04X} (not valid UTF-8 text)"
    if category == "Cf":
        return f"invisible formatting character U+{code:04X} ({unicodedata.name(char, 'unnamed')})"
    if _refused(char):
        return f"noncharacter U+{code:04X}"
    if char == "\\":
        return "'\\' (a backslash)"
    if char.isspace():
        return f"white space U+{code:04X} ({unicodedata.name(char, 'unnamed')})"
    return repr(char)


def check_text(value: str, what: str = "text") -> str:
    """Return ``value`` if it is one line of text with nothing invisible in it; else raise UnsafeTextError."""
    if not isinstance(value, str):
        raise UnsafeTextError(f"{what} must be text, not {type(value).__name__}.")
    found = first_refused(value)
    if found is not None:
        index, char = found
        raise UnsafeTextError(f"{what} contains {describe(char)} at position {index}.")
    return value


def check_name(value: str, what: str = "name") -> str:
    """``check_text``, not empty, no white space at either end and none but U+0020 inside."""
    check_text(value, what)
    if not value:
        raise UnsafeTextError(f"{what} must not be empty.")
    if value != value.strip():
        raise UnsafeTextError(f"{what} must not start or end with white space.")
    if not value.isascii():
        for char in value:
            if char.isspace() and char != " ":
                raise UnsafeTextError(f"{what} contains {describe(char)}; names use the plain space only.")
    return value
