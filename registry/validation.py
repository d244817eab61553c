"""Naemon's rules for names and values, checked before anything is stored.

Pure Python (no Django): used by the serializers, the forms, the importer and the renderer
(which re-checks, so nothing unchecked can reach a config file even through the admin).
Naemon parses object files line by line: a newline starts a new directive, an unescaped
``;`` starts a comment, ``$`` starts a macro and ``!`` separates check command arguments.
"""

from __future__ import annotations

import re

# Naemon's default illegal_object_name_chars, plus ';' (comment) which the house rules add.
ILLEGAL_NAME_CHARS = "`~!$%^&*|'\"<>?,()=;"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ILLEGAL_NAME = re.compile("[" + re.escape(ILLEGAL_NAME_CHARS) + "]")
_CUSTOM_VAR_NAME = re.compile(r"^_[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MACRO_OR_COMMENT = re.compile(r"[$;]")
MAX_NAME = 255
MAX_VALUE = 1024


class NaemonValueError(ValueError):
    """A name or value Naemon would misread; the message says what and why."""


def _common(value: str, what: str) -> None:
    """What Naemon's parser misreads in any name or value."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NaemonValueError(f"{what} is not valid UTF-8 text.") from None
    if value.endswith("\\"):
        # Naemon joins a line ending in a backslash with the next one.
        raise NaemonValueError(f"{what} must not end with a backslash.")
    if value == "null":
        raise NaemonValueError(f"{what} must not be 'null', which Naemon reads as 'unset'.")


def _describe(char: str) -> str:
    return repr(char) if not _CONTROL.match(char) else f"control character U+{ord(char):04X}"


def check_name(value: str, *, what: str = "name", allow_spaces: bool = False) -> str:
    """An object name: no control characters, none of Naemon's illegal characters."""
    if not isinstance(value, str) or not value:
        raise NaemonValueError(f"{what} must not be empty.")
    _common(value, what)
    if value.startswith("+"):
        raise NaemonValueError(f"{what} must not start with '+', which Naemon reads as 'add to inherited'.")
    if len(value) > MAX_NAME:
        raise NaemonValueError(f"{what} is longer than {MAX_NAME} characters.")
    bad = _CONTROL.search(value) or _ILLEGAL_NAME.search(value)
    if bad:
        raise NaemonValueError(
            f"{what} contains {_describe(bad.group())}; not allowed in Naemon object names: "
            f"control characters and {ILLEGAL_NAME_CHARS}"
        )
    if value != value.strip():
        raise NaemonValueError(f"{what} must not start or end with white space.")
    if not allow_spaces and any(c.isspace() for c in value):
        raise NaemonValueError(f"{what} must not contain white space.")
    return value


def check_value(value: str, *, what: str = "value", allow_dollar: bool = False) -> str:
    """A directive value: one line, no comment start (;), no macro ($) unless allowed."""
    if not isinstance(value, str):
        raise NaemonValueError(f"{what} must be a string.")
    _common(value, what)
    if len(value) > MAX_VALUE:
        raise NaemonValueError(f"{what} is longer than {MAX_VALUE} characters.")
    bad = _CONTROL.search(value)
    if bad:
        raise NaemonValueError(f"{what} contains {_describe(bad.group())}; values must be one line.")
    if ";" in value:
        raise NaemonValueError(f"{what} contains ';', which starts a comment in Naemon config.")
    if not allow_dollar and "$" in value:
        raise NaemonValueError(f"{what} contains '$', which starts a Naemon macro.")
    if value != value.strip():
        raise NaemonValueError(f"{what} must not start or end with white space.")
    return value


def check_command_argument(value: str, *, what: str = "check command argument") -> str:
    """One ``$ARGn$`` value: a value that also may not contain the separator ``!``."""
    check_value(value, what=what)
    if "!" in value:
        raise NaemonValueError(f"{what} contains '!', which separates check command arguments.")
    return value


def check_command_line(value: str, *, what: str = "command line") -> str:
    """A command definition's line: macros allowed, one line, no unescaped ';'."""
    if not isinstance(value, str) or not value.strip():
        raise NaemonValueError(f"{what} must not be empty.")
    _common(value, what)
    bad = _CONTROL.search(value)
    if bad:
        raise NaemonValueError(f"{what} contains {_describe(bad.group())}; it must be one line.")
    if re.search(r"(?<!\\);", value):
        raise NaemonValueError(f"{what} contains an unescaped ';' (write '\\;').")
    return value


def check_custom_variable_name(name: str) -> str:
    """``_NAME``: a leading underscore, then letters, digits, '_' or '-'."""
    if not isinstance(name, str) or not _CUSTOM_VAR_NAME.match(name):
        raise NaemonValueError(
            f"custom variable name {name!r} must start with '_' followed by letters, digits, '_' or '-' "
            "(at most 64)."
        )
    return name.upper()


def check_custom_variables(variables: dict[str, str]) -> dict[str, str]:
    """Validate names and values; names are upper-cased as Naemon does."""
    if not isinstance(variables, dict):
        raise NaemonValueError("custom variables must be an object of name: value.")
    result: dict[str, str] = {}
    for name, value in variables.items():
        upper = check_custom_variable_name(name)
        if upper in result:
            raise NaemonValueError(f"custom variable {upper} is given twice (names are case-insensitive).")
        if not isinstance(value, str):
            raise NaemonValueError(f"custom variable {upper} must be a string.")
        result[upper] = check_value(value, what=f"custom variable {upper}") if value else value
    return result


HOST_NOTIFICATION_OPTIONS = frozenset("durfsn")
SERVICE_NOTIFICATION_OPTIONS = frozenset("wucrfsn")


def check_options(value: str, allowed: frozenset[str], *, what: str) -> str:
    """Comma-separated one-letter options such as ``d,u,r``."""
    if value == "":
        return value
    letters = [item.strip() for item in value.split(",")]
    unknown = [item for item in letters if item not in allowed]
    if unknown:
        raise NaemonValueError(
            f"{what}: unknown option(s) {', '.join(unknown)}; allowed: {','.join(sorted(allowed))}."
        )
    return ",".join(letters)
