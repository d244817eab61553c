"""Naemon's rules for names and values, checked before anything is stored.

Pure Python (no Django): used by the serializers, the forms, the importer and the renderer
(which re-checks, so nothing unchecked can reach a config file even through the admin).
Naemon parses object files line by line: a newline starts a new directive, an unescaped
``;`` starts a comment, ``$`` starts a macro and ``!`` separates check command arguments.

Values that become macros ($HOSTADDRESS$, $HOSTALIAS$, $ARGn$, $_HOSTxxx$, $CONTACTEMAIL$,
$CONTACTPAGER$, $HOSTNOTES$, ...) are substituted raw into command lines that Naemon runs
with /bin/sh (it strips illegal_macro_output_chars only from plugin output and comments):
they may not contain what the shell reads as syntax (``check_macro_value``), and the
renderer single-quotes every macro that a command line leaves unquoted (``quote_macros``),
so that a value with spaces, ``#``, ``*``, ``~``... is exactly one argument, never more.
Only the ``$ARGn$`` that staff declare free-form (``Command.free_form_args``) stay unquoted:
their values split into words at plain spaces and may do nothing else
(``check_free_form_argument``).

Which characters any name or value may hold at all (no control characters, no invisible
formatting characters) is ``livestatus.client.text``: the Livestatus layer applies the same rule.

The renderer (registry/render.py) checks every name and value again with these functions when it
writes object files; the ``plain_*`` predicates are its fast paths: plain ASCII that every rule
accepts (a strict subset of what the full checks accept), so a million services do not each go
through the full checks.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping

from livestatus.client import text

# Naemon's default illegal_object_name_chars, plus ';' (comment) which the house rules add.
ILLEGAL_NAME_CHARS = "`~!$%^&*|'\"<>?,()=;"
# C0 controls and DEL: what the node serializer refuses in paths and commands it runs itself.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ILLEGAL_NAME = re.compile("[" + re.escape(ILLEGAL_NAME_CHARS) + "]")
_CUSTOM_VAR_NAME = re.compile(r"^_[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MACRO_OR_COMMENT = re.compile(r"[$;]")
MAX_NAME = 255
# Names of the objects the renderer defines itself (notify-filter wrappers, placeholders).
NOTIFY_FILTER_PREFIX = "notify-filter"
PLACEHOLDER_PREFIX = "portal-placeholder"
# The cluster's own commands (registry/cluster.py): the relay and the stale-copy check.
CLUSTER_COMMAND_PREFIXES = ("portal-relay", "portal-stale")
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


def _common(value: str, what: str, why: str) -> None:
    """What Naemon's parser misreads in any name or value, and what no name or text may hold."""
    found = text.first_refused(value)
    if found is not None:
        raise NaemonValueError(f"{what} contains {text.describe(found[1])}; {why}.")
    if value.endswith("\\"):
        # Naemon joins a line ending in a backslash with the next one.
        raise NaemonValueError(f"{what} must not end with a backslash.")
    if value == "null":
        raise NaemonValueError(f"{what} must not be 'null', which Naemon reads as 'unset'.")


# Fast paths: plain ASCII that every rule accepts. Anything else takes the full checks.
_PLAIN = "A-Za-z0-9_.:@/#-"
_PLAIN_NAME = re.compile(rf"[{_PLAIN}]+")
_PLAIN_SPACED_NAME = re.compile(rf"[{_PLAIN}]+(?: [{_PLAIN}]+)*")
# Printable ASCII without '$' and ';', no white space at either end, no backslash at the end.
_PLAIN_VALUE = re.compile(r"[!-#%-:<-~](?:[ !-#%-:<-~]*[!-#%-:<-\[\]-~])?")
# The same without anything the shell reads (SHELL_CHARS): values that become macros.
_PLAIN_MACRO = re.compile(r"[!#%(-:=?-\[\]-_a-{}~](?:[ !#%(-:=?-\[\]-_a-{}~]*[!#%(-:=?-\[\]-_a-{}~])?")
# Printable ASCII a command line may hold unquoted: the renderer's notify-filter and its paths.
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./+-]*$")
_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def plain_name(value: object, allow_spaces: bool = False) -> bool:
    """Whether ``value`` is a name ``check_name`` accepts without looking further (plain ASCII)."""
    return (
        type(value) is str
        and len(value) <= MAX_NAME
        and value != "null"
        and (_PLAIN_SPACED_NAME if allow_spaces else _PLAIN_NAME).fullmatch(value) is not None
    )


def plain_value(value: object) -> bool:
    """Whether ``value`` is a value ``check_value`` accepts without looking further."""
    return (
        type(value) is str
        and len(value) <= MAX_VALUE
        and value != "null"
        and _PLAIN_VALUE.fullmatch(value) is not None
    )


def plain_macro(value: object) -> bool:
    """Whether ``value`` is a value ``check_macro_value`` accepts without looking further."""
    return (
        type(value) is str
        and len(value) <= MAX_VALUE
        and value != "null"
        and _PLAIN_MACRO.fullmatch(value) is not None
    )


def plain_address(value: object) -> bool:
    """Whether ``value`` is a host name ``check_address`` accepts without looking further."""
    return (
        type(value) is str and len(value) <= 253 and value != "null" and HOSTNAME.fullmatch(value) is not None
    )


def check_name(value: str, *, what: str = "name", allow_spaces: bool = False) -> str:
    """An object name: no control characters, none of Naemon's illegal characters."""
    if plain_name(value, allow_spaces):
        return value
    if not isinstance(value, str) or not value:
        raise NaemonValueError(f"{what} must not be empty.")
    _common(value, what, "names may not hold control characters or invisible formatting characters")
    if value.startswith("+"):
        raise NaemonValueError(f"{what} must not start with '+', which Naemon reads as 'add to inherited'.")
    if len(value) > MAX_NAME:
        raise NaemonValueError(f"{what} is longer than {MAX_NAME} characters.")
    bad = _ILLEGAL_NAME.search(value)
    if bad:
        raise NaemonValueError(
            f"{what} contains {text.describe(bad.group())}; not allowed in Naemon object names: "
            f"control characters and {ILLEGAL_NAME_CHARS}"
        )
    if not allow_spaces and any(c.isspace() for c in value):
        raise NaemonValueError(f"{what} must not contain white space.")
    try:
        # No white space at either end, none but U+0020 inside: names that look alike are alike.
        text.check_name(value, what)
    except text.UnsafeTextError as exc:
        raise NaemonValueError(str(exc)) from None
    return value


def check_value(value: str, *, what: str = "value", allow_dollar: bool = False) -> str:
    """A directive value: one line, no comment start (;), no macro ($) unless allowed."""
    if plain_value(value):
        return value
    if not isinstance(value, str):
        raise NaemonValueError(f"{what} must be a string.")
    _common(value, what, "values must be one line of visible text")
    if len(value) > MAX_VALUE:
        raise NaemonValueError(f"{what} is longer than {MAX_VALUE} characters.")
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
                f"{what}: may not contain {text.describe(bad.group())} (it would reach the notification/check shell)."
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


# Naemon's MAX_COMMAND_ARGUMENTS: $ARG1$ ... $ARG32$.
MAX_COMMAND_ARGUMENTS = 32
# What a free-form argument's value may not hold beyond ``check_command_argument``: glob
# (* ? [ ]), comment (#), tilde (~), subshell or extglob ( ), brace expansion { }. Only the
# plain space may separate words: the shell splits on tabs and newlines too, and other white
# space (U+00A0, U+3000 ...) looks like a space but is no separator, so the words would not be
# what they seem.
FREE_FORM_CHARS = "#*?[]~(){}"
_FREE_FORM = re.compile("[" + re.escape(FREE_FORM_CHARS) + "]")


def check_free_form_args(value: object, command_line: str, *, what: str = "free_form_args") -> list[int]:
    """A command's free-form ``$ARGn$`` numbers (sorted, each once); each must be in its line."""
    if not isinstance(value, list) or not all(type(n) is int for n in value):
        raise NaemonValueError(
            f"{what} must be a list of argument numbers, e.g. [1, 3] for $ARG1$ and $ARG3$."
        )
    numbers = sorted(set(value))
    for number in numbers:
        if not 1 <= number <= MAX_COMMAND_ARGUMENTS:
            raise NaemonValueError(
                f"{what}: {number} is not an argument number (1 to {MAX_COMMAND_ARGUMENTS})."
            )
        if f"$ARG{number}$" not in command_line:
            raise NaemonValueError(f"{what}: the command line has no $ARG{number}$.")
    return numbers


def check_free_form_argument(value: str, *, what: str = "check command argument") -> str:
    """A value of a free-form ``$ARGn$``: it may split into words at plain spaces, and do nothing else.

    The command line leaves it unquoted, so ``/bin/sh`` or Naemon's own splitting
    (``runcmd_cmd2strv``) reads it: besides ``check_command_argument``'s rules, no glob, comment,
    tilde, subshell or brace character, no white space but U+0020, and no word that starts with
    ``=`` (zsh's ``=cmd`` is a path; Naemon reads an ``=`` in the line's first word as an
    assignment). A word starting with ``-`` is an option: that is what free-form is for.
    """
    check_command_argument(value, what=what)
    bad = _FREE_FORM.search(value)
    if bad:
        raise NaemonValueError(
            f"{what} (a free-form argument, split into words by the shell) may not contain "
            f"{text.describe(bad.group())}; only letters, digits, plain spaces and punctuation such as - . , : / @ % + =."
        )
    for char in value:
        if char != " " and char.isspace():
            raise NaemonValueError(
                f"{what} (a free-form argument) contains {text.describe(char)}; only a plain space may separate its words."
            )
    if any(word.startswith("=") for word in value.split(" ")):
        raise NaemonValueError(f"{what} (a free-form argument) has a word starting with '='.")
    return value


def check_command_line(value: str, *, what: str = "command line") -> str:
    """A command definition's line: macros allowed, one line, no unescaped ';'."""
    if not isinstance(value, str) or not value.strip():
        raise NaemonValueError(f"{what} must not be empty.")
    _common(value, what, "it must be one line of visible text")
    if value.strip() == "null":
        # The renderer writes the line stripped (Naemon strips it anyway): " null " would be "null".
        raise NaemonValueError(f"{what} must not be 'null', which Naemon reads as 'unset'.")
    if re.search(r"(?<!\\);", value):
        raise NaemonValueError(f"{what} contains an unescaped ';' (write '\\;').")
    if value.strip().endswith("\\"):
        # Naemon joins a line ending in a backslash with the next one: it would swallow a directive.
        raise NaemonValueError(f"{what} ends with a backslash.")
    quote_macros(value, what=what)
    return value


# Naemon pairs '$' signs left to right: '$NAME$' is a macro, '$$' an escaped '$'.
_DOLLAR_PAIR = re.compile(r"\$([^$]*)\$")
# What Naemon may substitute: standard, $ARGn$, $_HOSTxxx$..., on-demand ($HOSTALIAS:web01$).
_MACRO_NAME = re.compile(r"[A-Za-z0-9_]+(?::[^$]*)?")
# $USERn$ come from the node's resource file, written by its administrators: left as they are
# (one may hold a path, or several options on purpose).
_RESOURCE_MACRO = re.compile(r"USER[0-9]+")


def quote_macros(line: str, *, what: str = "command line", free_form: Collection[int] = ()) -> str:
    """``line`` with every macro it leaves unquoted in single quotes: ``-p $ARG1$`` -> ``-p '$ARG1$'``.

    Naemon pastes macro values raw into the line, then runs it with ``/bin/sh -c`` when it
    holds shell syntax, or splits it into words itself (``runcmd_cmd2strv``: quotes and
    backslashes as the shell reads them, no globbing, no comments). Unquoted, a value with a
    space is several arguments, ``#`` cuts the rest of the line off, ``*`` expands to file
    names. In single quotes it is exactly one argument in both paths: no value can hold a
    ``'`` (``check_macro_value``). A macro the line already quotes is left alone: inside
    ``'...'`` it is literal, inside ``"..."`` no value holds what is special there
    (`` ` $ \\ " ``). Quoting is idempotent: the output's macros are all quoted already.

    A macro right after a backslash or a ``$`` (Naemon's ``$$``) is refused: the backslash would
    escape the value's first character, the ``$`` make it a shell parameter name (``$HOME``),
    and quoting would not help (``\\'`` is a literal quote, ``$'...'`` bash's C-string).

    ``free_form``: the numbers of the ``$ARGn$`` that staff declared free-form
    (``Command.free_form_args``): left unquoted, so that their value splits into words as the
    command's author intends; such values are held to ``check_free_form_argument``.
    """
    unquoted = {f"$ARG{number}$" for number in free_form}
    # The line as the shell will read it: (character, original text) with None for a macro.
    items: list[tuple[str | None, str]] = []
    pos = 0
    for pair in _DOLLAR_PAIR.finditer(line):
        items.extend((char, char) for char in line[pos : pair.start()])
        name = pair.group(1)
        if not name:
            items.append(("$", "$$"))
        elif _MACRO_NAME.fullmatch(name) and not _RESOURCE_MACRO.fullmatch(name):
            items.append((None, pair.group()))
        else:
            items.extend((char, char) for char in pair.group())
        pos = pair.end()
    items.extend((char, char) for char in line[pos:])

    # Shell quoting contexts, innermost last: ' " ` $( ( (outside all of them: unquoted).
    stack: list[str] = []
    out: list[str] = []
    escaped = dollar = False
    index = 0
    while index < len(items):
        char, original = items[index]
        index += 1
        context = stack[-1] if stack else ""
        if char is None:
            if dollar:
                raise NaemonValueError(
                    f"{what}: a '$' (written '$$') before {original} makes the shell read the value "
                    "as a variable name; remove it."
                )
            if context == "'":
                out.append(original)
            elif escaped:
                raise NaemonValueError(
                    f"{what}: a backslash before {original} would escape the first character of "
                    "its value; remove the backslash."
                )
            else:
                out.append(original if context == '"' or original in unquoted else f"'{original}'")
            escaped = False
            continue
        out.append(original)
        dollar = char == "$" and not escaped and context != "'"
        if escaped:
            escaped = False
        elif context == "'":
            if char == "'":
                stack.pop()
        elif char == "\\":
            escaped = True
        elif char == "$" and index < len(items) and items[index][0] == "(":
            out.append(items[index][1])
            index += 1
            stack.append("$(")
            dollar = False
        elif char == "`":
            if context == "`":
                stack.pop()
            else:
                stack.append("`")
        elif context == '"':
            if char == '"':
                stack.pop()
        elif char in "'\"(":
            stack.append(char)
        elif char == ")" and context in ("$(", "("):
            stack.pop()
    return "".join(out)


def check_path(value: str, what: str) -> str:
    """An absolute path that is safe to write unquoted into a command line."""
    if not _SAFE_PATH.fullmatch(value):
        raise NaemonValueError(f"{what} must be an absolute path of letters, digits and _ . / + - only.")
    return value


_RELAY_TARGET = re.compile(
    r"livestatus:unix:/[A-Za-z0-9_./+-]+|livestatus:tcp:[A-Za-z0-9.-]{1,253}:[0-9]{1,5}"
    r"|livestatus:tcp:\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}|cmdfile:/[A-Za-z0-9_./+-]+"
)


def check_relay_target(value: str, what: str = "relay_address") -> str:
    """Where a node's relay hands check results to another node; written into a command line."""
    if not isinstance(value, str) or not _RELAY_TARGET.fullmatch(value):
        raise NaemonValueError(
            f"{what} must be livestatus:unix:/path, livestatus:tcp:host:port or cmdfile:/path "
            "(paths of letters, digits and _ . / + - only)."
        )
    return value


def check_channel(value: str, what: str) -> str:
    """A notification command's channel, as the notify-filter's rules match on it."""
    if not isinstance(value, str) or not _CHANNEL.fullmatch(value):
        raise NaemonValueError(f"{what}: channel must be letters, digits, '_' or '-' (at most 32).")
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


# Flap detection states (Naemon's xodtemplate: o/d/u for hosts, o/w/c/u for services; n: none).
HOST_FLAP_OPTIONS = frozenset("odun")
SERVICE_FLAP_OPTIONS = frozenset("owcun")
_URL_REFUSED = re.compile(r"[\s'\"`\\;<>]")


def check_flap_thresholds(low: float | None, high: float | None) -> dict[str, str]:
    """Field -> problem for flap thresholds: each 0-100 (a percent state change), low below high."""
    problems: dict[str, str] = {}
    for field, value in (("low_flap_threshold", low), ("high_flap_threshold", high)):
        if value is not None and not 0 <= value <= 100:
            problems[field] = f"{field} must be between 0 and 100 (a percent state change)."
    if not problems and low is not None and high is not None and low >= high:
        problems["low_flap_threshold"] = "low_flap_threshold must be below high_flap_threshold."
    return problems


def check_url(value: str, *, what: str = "url") -> str:
    """``notes_url``/``action_url``: one word, nothing the shell or the config file reads ($ macros pass)."""
    check_value(value, what=what, allow_dollar=True)
    bad = _URL_REFUSED.search(value)
    if bad:
        raise NaemonValueError(f"{what}: may not contain {text.describe(bad.group())} (a URL has none).")
    return value


def link_cycle(start: str, links: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A path back to ``start`` through ``links`` (name -> names it excludes or has as members).

    Naemon follows time periods' ``exclude`` and groups' ``*_members`` recursively: a loop
    recurses without end (exclude) or is refused by the core (members), so it is refused here.
    """
    todo: list[list[str]] = [[start, name] for name in links.get(start, ())]
    seen: set[str] = set()
    while todo:
        path = todo.pop()
        if path[-1] == start:
            return path
        if path[-1] in seen:
            continue
        seen.add(path[-1])
        todo.extend([*path, name] for name in links.get(path[-1], ()))
    return None
