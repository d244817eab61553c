"""Naemon's rules for names and values, checked before anything is stored.

Pure Python (no Django): used by the serializers, the forms, the importer and the renderer
(which re-checks, so nothing unchecked can reach a config file even through the admin).
Naemon parses object files line by line: a newline starts a new directive, an unescaped
``;`` starts a comment, ``$`` starts a macro and ``!`` separates check command arguments.

Values that become macros ($HOSTADDRESS$, $HOSTALIAS$, $ARGn$, $_HOSTxxx$, $CONTACTEMAIL$,
$CONTACTPAGER$, $HOSTNOTES$, ...) are substituted raw into command lines that Naemon runs
with /bin/sh (it strips illegal_macro_output_chars only from plugin output and comments):
they may not contain what the shell reads as syntax (``check_macro_value``).
"""

from __future__ import annotations

import ipaddress
import re

# Naemon's default illegal_object_name_chars, plus ';' (comment) which the house rules add.
ILLEGAL_NAME_CHARS = "`~!$%^&*|'\"<>?,()=;"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ILLEGAL_NAME = re.compile("[" + re.escape(ILLEGAL_NAME_CHARS) + "]")
_CUSTOM_VAR_NAME = re.compile(r"^_[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MACRO_OR_COMMENT = re.compile(r"[$;]")
MAX_NAME = 255
# Names of the objects the renderer defines itself (notify-filter wrappers, placeholders).
NOTIFY_FILTER_PREFIX = "notify-filter"
PLACEHOLDER_PREFIX = "portal-placeholder"
MAX_VALUE = 1024
# What /bin/sh reads as syntax in an unquoted or double-quoted word: command substitution (` $),
# pipes and lists (| & ;), redirections (< >), quotes (' ") and escapes (\\).
SHELL_CHARS = "`$|&;<>'\"\\"
_SHELL = re.compile("[" + re.escape(SHELL_CHARS) + "]")
_HOSTNAME_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOSTNAME = re.compile(rf"{_HOSTNAME_LABEL}(?:\.{_HOSTNAME_LABEL})*\.?")
_EMAIL = re.compile(rf"[A-Za-z0-9_%+=][A-Za-z0-9._%+=-]{{0,63}}@{_HOSTNAME_LABEL}(?:\.{_HOSTNAME_LABEL})*")
_TIME_RANGES = re.compile(r"^(?:[0-2]\d:[0-5]\d-[0-2]\d:[0-5]\d)(?:,[0-2]\d:[0-5]\d-[0-2]\d:[0-5]\d)*$")
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE_SPEC = (
    r"(?:\d{4}-\d\d-\d\d"
    rf"|day -?\d{{1,2}}"
    rf"|(?:{_MONTHS}) -?\d{{1,2}}"
    rf"|(?:{_WEEKDAYS}) -?\d(?: (?:{_MONTHS}))?)"
)
_TIMEPERIOD_DAY = re.compile(rf"^(?:(?:{_WEEKDAYS})|{_DATE_SPEC}(?: - {_DATE_SPEC})?(?: / \d{{1,3}})?)$")


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
    if char == "\\":
        return "'\\' (a backslash)"
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


def check_macro_value(value: str, *, what: str = "value") -> str:
    """A value Naemon substitutes as a macro into command lines: ``check_value`` and no shell syntax."""
    if isinstance(value, str):
        bad = _SHELL.search(value)
        if bad:
            raise NaemonValueError(
                f"{what}: may not contain {_describe(bad.group())} (it would reach the notification/check shell)."
            )
    return check_value(value, what=what)


def check_address(value: str, *, what: str = "address") -> str:
    """A host's address ($HOSTADDRESS$): a host name or an IP address, nothing the shell reads."""
    check_macro_value(value, what=what)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if len(value) > 253 or not HOSTNAME.fullmatch(value):
            raise NaemonValueError(
                f"{what}: must be a host name (letters, digits, '-', '_', dot-separated) or an IP address."
            ) from None
    return value


def check_email(value: str, *, what: str = "email") -> str:
    """A contact's email ($CONTACTEMAIL$, usually unquoted in mail commands): a plain address."""
    check_macro_value(value, what=what)
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise NaemonValueError(
            f"{what}: must be a plain address like name@example.org "
            "(letters, digits and . _ % + = - before the @; a host name after it)."
        )
    return value


def check_pager(value: str, *, what: str = "pager") -> str:
    """A contact's pager ($CONTACTPAGER$): a number or address; never read as a command option."""
    check_macro_value(value, what=what)
    if value.startswith("-"):
        raise NaemonValueError(f"{what}: must not start with '-' (a command would read it as an option).")
    return value


def check_timeperiod_day(day: str, *, what: str = "day") -> str:
    """A time period's day or date exception (``monday``, ``2026-12-24``, ``monday -1 may``)."""
    check_name(day, what=what, allow_spaces=True)
    if not _TIMEPERIOD_DAY.fullmatch(day):
        raise NaemonValueError(
            f"{what} is not a weekday or date Naemon understands "
            "(e.g. monday, 2026-12-24, day 1, july 4, monday -1 may)."
        )
    return day


def check_time_ranges(value: str, *, what: str = "time ranges") -> str:
    """``HH:MM-HH:MM`` ranges, comma-separated."""
    check_value(value, what=what)
    if not _TIME_RANGES.fullmatch(value):
        raise NaemonValueError(f"{what} must be time ranges like 09:00-17:00,18:00-20:00.")
    return value


def check_command_argument(value: str, *, what: str = "check command argument") -> str:
    """One ``$ARGn$`` value: a macro value that also may not contain the separator ``!``."""
    check_macro_value(value, what=what)
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
        result[upper] = check_macro_value(value, what=f"custom variable {upper}") if value else value
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
