"""Naemon object config for one node, rendered from the registry's current state.

``render_node(node)`` loads what the node monitors (``load_state``) and renders it
(``render_state``): a few files ({name: text}), a content hash over all of them, and a
small digest per host and service so a deploy can say what changed.

The output is deterministic: objects sorted by name (in Python, so PostgreSQL and SQLite
collations agree), directives in a fixed order, one directive per line, the closing brace
on its own line. Every name and value is checked again here with registry/validation.py,
plus the few rules that only matter when writing object files (below), so nothing
unchecked reaches a file even when it got into the database around the API: a bad value
raises NaemonValueError naming the object and field, and nothing is written.

What a node gets: a master, everything. A poller, the hosts of the host groups it owns and
their services, the services on those host groups, every host group it owns (also empty
ones) and the other host groups its hosts are in (so $HOSTGROUPNAMES$, which the
notify-filter matches rules on, is the same on every node). Parents monitored by another
node are left out on a poller. Time periods, commands, contacts, groups and templates go
to every node.

Contacts' notification commands are wrapped by the notify-filter: each command with a
``channel`` gets two extra definitions, ``notify-filter-host__<name>`` and
``notify-filter-service__<name>``, that run the filter with Naemon's macros (each quoted) in
its gate form, ``notify-filter ... || [ $$? -ne 86 ] || exit 0 && ( <the command's own line> )``;
contacts reference those. Only the filter's own "suppress" exits 86: any other status (the
filter missing, not executable, crashing) runs the whole line, so a broken filter sends rather
than drops; a suppressed notification runs no part of the line, pipelines included.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livestatus.text import describe, first_refused
from registry import validation
from registry.choices import NodeRole
from registry.validation import NaemonValueError

Row = dict[str, Any]

FILES = (
    "timeperiods.cfg",
    "commands.cfg",
    "contacts.cfg",
    "groups.cfg",
    "templates.cfg",
    "hosts.cfg",
    "services.cfg",
)
NOTIFY_PREFIX = validation.NOTIFY_FILTER_PREFIX
HOST_WRAPPER = "notify-filter-host__"
SERVICE_WRAPPER = "notify-filter-service__"
# The notify-filter's exit status for "do not send" (preferences/notify_filter.py's
# SUPPRESS_STATUS; registry imports nothing of preferences): no shell or Python failure uses it.
NOTIFY_FILTER_SUPPRESS = 86

# Rules beyond registry/validation.py that only matter in object files:
# - Naemon reads the value "null" as "unset": a host named null could not be referenced.
# - In list directives (hostgroups, parents, members, host_name of a service) a leading '+'
#   means "add to the template's value" and is stripped: a host group "+web" would be "web".
_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./+-]*$")


@dataclass
class State:
    """What one node monitors, as plain rows (names, not ids) in the shape render_state takes.

    Rows carry the model's field names; references are names (``check_command``,
    ``check_period`` ...) or lists of names (``use`` in order; ``hostgroups``, ``parents``,
    ``contacts``, ``contact_groups``, ``servicegroups``, ``members``; a contact's
    ``host_notification_commands`` and ``service_notification_commands``). A service row
    has ``host`` (a name or None) and ``hostgroups``.
    """

    timeperiods: list[Row] = field(default_factory=list)
    commands: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    contactgroups: list[Row] = field(default_factory=list)
    hostgroups: list[Row] = field(default_factory=list)
    servicegroups: list[Row] = field(default_factory=list)
    host_templates: list[Row] = field(default_factory=list)
    service_templates: list[Row] = field(default_factory=list)
    hosts: list[Row] = field(default_factory=list)
    services: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class NotifyFilter:
    """Where the notify-filter runs on a node and where it keeps its files (empty: its defaults)."""

    path: str
    notify_dir: str = ""


@dataclass
class Rendered:
    """The rendered config of one node."""

    files: dict[str, str]
    content_hash: str
    #: host name -> CRC of its definition; service key ("host/description", or
    #: "@group1,group2/description" on host groups) -> CRC; for the "what changed" summary.
    hosts: dict[str, int]
    services: dict[str, int]


# --- checks ---------------------------------------------------------------------------


def _text(value: str, what: str) -> str:
    # The one rule for characters (livestatus.text), which the Livestatus layer applies too.
    found = first_refused(value)
    if found is not None:
        raise NaemonValueError(f"{what} contains {describe(found[1])}.")
    if value == "null":
        raise NaemonValueError(f"{what} is 'null', which Naemon reads as 'no value'.")
    return value


# Fast paths: plain ASCII that every rule accepts (a strict subset of what they accept), so a
# million services do not each go through the full checks. Anything else takes the full path.
_PLAIN = "A-Za-z0-9_.:@/#-"
_PLAIN_NAME = re.compile(rf"[{_PLAIN}]+")
_PLAIN_SPACED_NAME = re.compile(rf"[{_PLAIN}]+(?: [{_PLAIN}]+)*")
# Printable ASCII without '$' and ';', no white space at either end, no backslash at the end.
_PLAIN_VALUE = re.compile(r"[!-#%-:<-~](?:[ !-#%-:<-~]*[!-#%-:<-\[\]-~])?")
# The same without anything the shell reads (validation.SHELL_CHARS): values that become macros.
_PLAIN_MACRO = re.compile(r"[!#%(-:=?-\[\]-_a-{}~](?:[ !#%(-:=?-\[\]-_a-{}~]*[!#%(-:=?-\[\]-_a-{}~])?")


def check_name(value: Any, what: str, *, allow_spaces: bool = False) -> str:
    """An object name as the renderer accepts it: validation.check_name and the object-file rules."""
    if (
        type(value) is str
        and len(value) <= validation.MAX_NAME
        and value != "null"
        and (_PLAIN_SPACED_NAME if allow_spaces else _PLAIN_NAME).fullmatch(value)
    ):
        return value
    validation.check_name(value, what=what, allow_spaces=allow_spaces)
    return _text(value, what)


def check_value(value: Any, what: str) -> str:
    """A directive value as the renderer accepts it."""
    if (
        type(value) is str
        and len(value) <= validation.MAX_VALUE
        and value != "null"
        and _PLAIN_VALUE.fullmatch(value)
    ):
        return value
    validation.check_value(value, what=what)
    return _text(value, what)


def check_timeperiod_day(day: Any, what: str) -> str:
    """A time period's day or date exception (``monday``, ``2026-12-24``, ``monday -1 may``)."""
    check_name(day, what, allow_spaces=True)
    return validation.check_timeperiod_day(day, what=what)


def check_time_ranges(value: Any, what: str) -> str:
    """``HH:MM-HH:MM`` ranges, comma-separated."""
    check_value(value, what)
    return validation.check_time_ranges(value, what=what)


def check_path(value: str, what: str) -> str:
    """An absolute path that is safe to write unquoted into a command line."""
    if not _SAFE_PATH.fullmatch(value):
        raise NaemonValueError(f"{what} must be an absolute path of letters, digits and _ . / + - only.")
    return value


# --- rendering ------------------------------------------------------------------------


def _plain_name(value: Any, allow_spaces: bool) -> bool:
    return (
        type(value) is str
        and len(value) <= validation.MAX_NAME
        and value != "null"
        and (_PLAIN_SPACED_NAME if allow_spaces else _PLAIN_NAME).fullmatch(value) is not None
    )


def _plain_value(value: Any) -> bool:
    return (
        type(value) is str
        and len(value) <= validation.MAX_VALUE
        and value != "null"
        and _PLAIN_VALUE.fullmatch(value) is not None
    )


def _plain_macro(value: Any) -> bool:
    return (
        type(value) is str
        and len(value) <= validation.MAX_VALUE
        and value != "null"
        and _PLAIN_MACRO.fullmatch(value) is not None
    )


def _never(value: Any) -> bool:
    return False


def _plain_address(value: Any) -> bool:
    return (
        type(value) is str
        and len(value) <= 253
        and value != "null"
        and validation.HOSTNAME.fullmatch(value) is not None
    )


class _Block:
    """One ``define`` block being built; every ``add`` is one checked directive line.

    ``what`` names the object in error messages; it may be a callable, so that the label is
    only built when there is an error to report.
    """

    __slots__ = ("_what", "lines")

    def __init__(self, kind: str, what: str | Callable[[], str]) -> None:
        self._what = what
        self.lines = [f"define {kind} {{"]

    @property
    def what(self) -> str:
        return self._what if isinstance(self._what, str) else self._what()

    def add(self, directive: str, value: str, *, field: str | None = None) -> None:
        if value.endswith("\\"):
            # Naemon joins a line ending in a backslash with the next one: it would swallow a directive.
            raise NaemonValueError(f"{self.what}: {field or directive} ends with a backslash.")
        self.lines.append(f"    {directive} {value}" if value else f"    {directive}")

    def value(self, directive: str, value: Any, *, field: str | None = None) -> None:
        if value is None or value == "":
            return
        if not _plain_value(value):
            check_value(value, f"{self.what}: {field or directive}")
        self.add(directive, value, field=field)

    def macro(
        self,
        directive: str,
        value: Any,
        *,
        field: str | None = None,
        check: Callable[..., str] = validation.check_macro_value,
        plain: Callable[[Any], bool] = _plain_macro,
    ) -> None:
        """A value Naemon also substitutes into command lines (a macro): nothing the shell reads."""
        if value is None or value == "":
            return
        if not plain(value):
            what = f"{self.what}: {field or directive}"
            check(value, what=what)
            _text(value, what)
        self.add(directive, value, field=field)

    def checked_name(self, value: Any, field: str, allow_spaces: bool = False) -> str:
        if _plain_name(value, allow_spaces):
            return str(value)
        return check_name(value, f"{self.what}: {field}", allow_spaces=allow_spaces)

    def name(
        self, directive: str, value: str, *, allow_spaces: bool = False, field: str | None = None
    ) -> None:
        self.add(directive, self.checked_name(value, field or directive, allow_spaces), field=field)

    def names(
        self, directive: str, values: Iterable[str], *, allow_spaces: bool = False, field: str | None = None
    ) -> None:
        if not values:
            return
        values = list(values)
        if values:
            label = field or directive
            checked = ",".join([self.checked_name(v, label, allow_spaces) for v in values])
            self.add(directive, checked, field=field)

    def number(self, directive: str, value: Any, minimum: int = 0) -> None:
        if value is not None:
            if type(value) is not int or value < minimum:
                raise NaemonValueError(f"{self.what}: {directive} must be a whole number >= {minimum}.")
            self.lines.append(f"    {directive} {value}")

    def flag(self, directive: str, value: Any) -> None:
        if value is not None:
            self.lines.append(f"    {directive} {'1' if value else '0'}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n}\n"


@functools.lru_cache(maxsize=256)
def _options(value: str, letters: frozenset[str]) -> str | None:
    """Checked notification options (None: invalid; the caller reports it with its label)."""
    try:
        return validation.check_options(value, letters, what="notification_options")
    except NaemonValueError:
        return None


def _check_settings(block: _Block, row: Row, option_letters: frozenset[str], *, service: bool) -> None:
    """The directives hosts, services and their templates share; None/empty means 'inherit'."""
    get = row.get
    command = get("check_command")
    args = get("check_command_args") or []
    if not isinstance(args, list):
        raise NaemonValueError(f"{block.what}: check_command_args must be a list of strings.")
    if command:
        parts = [block.checked_name(command, "check_command")]
        for i, arg in enumerate(args, start=1):
            if arg == "" or (_plain_macro(arg) and "!" not in arg):
                parts.append(arg)
                continue
            what = f"{block.what}: check_command_args $ARG{i}$"
            validation.check_command_argument(arg, what=what)
            if arg.endswith("\\"):
                # '\!' is an escaped '!': the argument would swallow the next one.
                raise NaemonValueError(f"{what} ends with a backslash.")
            parts.append(_text(arg, what))
        block.add("check_command", "!".join(parts))
    elif args:
        raise NaemonValueError(f"{block.what}: check_command_args are given without a check_command.")
    block.number("check_interval", get("check_interval"))
    # Naemon refuses max_check_attempts 0, and a service's retry_interval 0 (not a host's).
    block.number("retry_interval", get("retry_interval"), minimum=1 if service else 0)
    block.number("max_check_attempts", get("max_check_attempts"), minimum=1)
    if get("check_period"):
        block.name("check_period", row["check_period"])
    block.flag("active_checks_enabled", get("active_checks_enabled"))
    block.flag("passive_checks_enabled", get("passive_checks_enabled"))
    block.flag("notifications_enabled", get("notifications_enabled"))
    block.number("notification_interval", get("notification_interval"))
    if get("notification_period"):
        block.name("notification_period", row["notification_period"])
    options = get("notification_options")
    if options:
        checked = _options(options, option_letters) if type(options) is str else None
        if checked is None:
            validation.check_options(options, option_letters, what=f"{block.what}: notification_options")
            raise NaemonValueError(f"{block.what}: notification_options must be text.")
        block.add("notification_options", checked)
    block.macro("notes", get("notes"))
    variables = get("custom_variables")
    if variables:
        _custom_variables(block, variables)


_CUSTOM_NAME = re.compile(r"_[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _custom_variables(block: _Block, variables: Any) -> None:
    if type(variables) is dict and all(
        type(k) is str and _CUSTOM_NAME.fullmatch(k) and (v == "" or _plain_macro(v))
        for k, v in variables.items()
    ):
        checked = {k.upper(): v for k, v in variables.items()}
        if len(checked) == len(variables):
            for name in sorted(checked):
                block.add(name, checked[name], field=f"custom variable {name}")
            return
    try:
        checked = validation.check_custom_variables(variables)
    except NaemonValueError as exc:
        raise NaemonValueError(f"{block.what}: custom_variables: {exc}") from None
    for name in sorted(checked):
        value = checked[name]
        label = f"custom variable {name}"
        block.add(name, _text(value, f"{block.what}: {label}") if value else "", field=label)


def _check_free_form_values(state: State, commands: list[Row]) -> None:
    """Values of free-form $ARGn$ (unquoted in the command line) may split into words, nothing more.

    Checked here as well as on write: the value may have been stored before its argument
    became free-form, or around the API.
    """
    free_form = {row["name"]: row["free_form_args"] for row in commands if row.get("free_form_args")}
    if not free_form:
        return
    for kind, rows in (
        ("host template", state.host_templates),
        ("service template", state.service_templates),
        ("host", state.hosts),
        ("service", state.services),
    ):
        for row in rows:
            numbers = free_form.get(row.get("check_command") or "")
            args = row.get("check_command_args")
            if not numbers or not isinstance(args, list):
                continue  # no free-form argument; a malformed list is _check_settings' to report
            for number in numbers:
                value = args[number - 1] if number <= len(args) else ""
                if isinstance(value, str) and value:
                    name = service_key(row) if kind == "service" else row["name"]
                    what = f"{kind} {name!r}: check_command_args $ARG{number}$"
                    validation.check_free_form_argument(value, what=what)


def _render_timeperiod(row: Row) -> str:
    block = _Block("timeperiod", f"timeperiod {row['name']!r}")
    block.name("timeperiod_name", row["name"], field="name")
    # Nagios refuses a time period without an alias; the name is what it shows otherwise.
    block.macro("alias", row.get("alias") or row["name"])
    ranges = row.get("ranges") or {}
    if not isinstance(ranges, dict):
        raise NaemonValueError(f"{block.what}: ranges must be an object of day: time ranges.")
    for day in sorted(ranges):
        what = f"{block.what}: ranges {day!r}"
        block.add(check_timeperiod_day(day, what), check_time_ranges(ranges[day], what))
    return block.text()


def _render_command(name: str, command_line: str, what: str, free_form: Any = None) -> str:
    block = _Block("command", what)
    block.name("command_name", name, field="name")
    validation.check_command_line(command_line, what=f"{what}: command_line")
    free = validation.check_free_form_args(free_form or [], command_line, what=f"{what}: free_form_args")
    # Naemon strips the value anyway; stripped, the file has no trailing white space. Every
    # macro the line leaves unquoted is single-quoted: a value is one argument, never more;
    # only the $ARGn$ staff declared free-form stay unquoted (_check_free_form_values).
    line = validation.quote_macros(command_line.strip(), what=f"{what}: command_line", free_form=free)
    block.add("command_line", _text(line, f"{what}: command_line"))
    return block.text()


def _quoted(macro: str) -> str:
    return f'"${macro}$"'


def wrapped_command_lines(row: Row, notify: NotifyFilter) -> tuple[str, str]:
    """The host and service notification command lines of a notification command, through the filter."""
    what = f"command {row['name']!r}"
    channel = row.get("channel") or ""
    if not _CHANNEL.fullmatch(channel):
        raise NaemonValueError(f"{what}: channel must be letters, digits, '_' or '-' (at most 32).")
    check_path(notify.path, "the notify-filter path")
    files: list[str] = []
    if notify.notify_dir:
        base = check_path(notify.notify_dir.rstrip("/") or "/", "the node's notify_dir")
        files = ["--snapshot-dir", f'"{base}/snapshot"', "--state-dir", f'"{base}/state"']
        files += ["--log", f'"{base}/decisions.log"']
    common = [notify.path, "--contact", _quoted("CONTACTNAME"), "--channel", channel]
    common += ["--type", _quoted("NOTIFICATIONTYPE"), "--host", _quoted("HOSTNAME")]
    common += ["--hostgroups", _quoted("HOSTGROUPNAMES")]
    host = [*common, "--state", _quoted("HOSTSTATE"), "--id", _quoted("HOSTNOTIFICATIONID")]
    host += ["--problem-id", _quoted("HOSTPROBLEMID"), "--last-problem-id", _quoted("LASTHOSTPROBLEMID")]
    service = [*common, "--service", _quoted("SERVICEDESC"), "--servicegroups", _quoted("SERVICEGROUPNAMES")]
    service += ["--state", _quoted("SERVICESTATE"), "--id", _quoted("SERVICENOTIFICATIONID")]
    service += ["--problem-id", _quoted("SERVICEPROBLEMID")]
    service += ["--last-problem-id", _quoted("LASTSERVICEPROBLEMID")]
    # The filter only decides; the shell runs the whole line unless the filter exited with
    # exactly NOTIFY_FILTER_SUPPRESS. Not the exec form (filter -- LINE): a filter that cannot
    # start would run nothing. Set -e safe (only the last command of an AND-OR list counts);
    # "exit 0": a suppressed notification is no failed command in Naemon's log; no ';' (a
    # comment in object files); $$ is Naemon's escaped $. The '|' and '$' also make Naemon run
    # the line through /bin/sh: it execs a line without shell metacharacters directly.
    _, line = shell_structure(row["command_line"])
    tail = ["||", "[", "$$?", "-ne", str(NOTIFY_FILTER_SUPPRESS), "]", "||", "exit", "0", "&&"]
    tail += ["(", line or ":", ")"]
    return (" ".join([*host, *files, *tail]), " ".join([*service, *files, *tail]))


# First words that make a line more than "run this program": reserved words and builtins.
_SHELL_WORDS = frozenset(
    {
        "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then",
        "until", "while", ".", ":", "alias", "break", "cd", "command", "continue", "eval", "exec", "exit",
        "export", "getopts", "read", "readonly", "return", "set", "shift", "times", "trap", "type",
        "ulimit", "umask", "unalias", "unset", "wait",
    }
)  # fmt: skip
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def shell_structure(line: str) -> tuple[bool, str]:
    """Whether ``/bin/sh`` reads ``line`` as more than one simple command; and the line without a comment.

    More than one simple command: pipes, lists (``;`` ``&`` ``&&`` ``||``), redirections,
    subshells, command substitution (which would run before the filter decides), an assignment
    or a shell keyword or builtin as the first word. An exec form (``notify-filter ... -- LINE``)
    would only work for a simple command: the shell would split ``filter -- a | b`` at the ``|``
    and run ``b`` whatever the filter decides. ``line`` is a command definition's line as stored:
    Naemon turns ``\\;`` into ``;`` and ``$$`` into ``$`` before the shell sees it. A trailing
    comment is cut off (the shell ignores it; inside ``( ... )`` it would swallow the ``)``).
    """
    compound = False
    quote = ""
    word_start = True
    i = 0
    while i < len(line):
        c = line[i]
        starts_word = False
        if quote == "'":
            quote = "" if c == "'" else quote
        elif quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = ""
            elif c == "`" or line.startswith("$(", i):
                compound = True
        elif c == "\\" and line.startswith(";", i + 1):
            compound, starts_word = True, True  # Naemon's escaped ';' is the shell's ';'
            i += 1
        elif c == "\\":
            i += 1
        elif c in "'\"":
            quote = c
        elif c == "#" and word_start:
            return True, line[:i].rstrip()
        elif c in "|&;<>()`" or line.startswith("$(", i):
            compound, starts_word = True, True
        elif c in " \t":
            starts_word = True
        word_start = starts_word
        i += 1
    first = line.split(None, 1)[0] if line.strip() else ""
    if first in _SHELL_WORDS or _ASSIGNMENT.match(first):
        compound = True
    return compound, line


def _render_commands(rows: list[Row], notify: NotifyFilter) -> list[str]:
    blocks = []
    for row in rows:
        what = f"command {row['name']!r}"
        for prefix in (NOTIFY_PREFIX, PLACEHOLDER):
            if row["name"].startswith(prefix):
                raise NaemonValueError(f"{what}: names starting with {prefix!r} are the portal's own.")
        blocks.append(_render_command(row["name"], row["command_line"], what, row.get("free_form_args")))
        if row.get("channel"):
            host_line, service_line = wrapped_command_lines(row, notify)
            blocks.append(_render_command(HOST_WRAPPER + row["name"], host_line, what))
            blocks.append(_render_command(SERVICE_WRAPPER + row["name"], service_line, what))
    return blocks


def _render_contact(row: Row, channels: dict[str, str]) -> str:
    block = _Block("contact", f"contact {row['name']!r}")
    block.name("contact_name", row["name"], field="name")
    block.add("use", DEFAULT_CONTACT_TEMPLATE)  # the periods, where the contact sets none
    block.macro("alias", row.get("alias"))
    block.macro("email", row.get("email"), check=validation.check_email, plain=_never)
    block.macro("pager", row.get("pager"), check=validation.check_pager, plain=_never)
    if row.get("host_notification_period"):
        block.name("host_notification_period", row["host_notification_period"])
    if row.get("service_notification_period"):
        block.name("service_notification_period", row["service_notification_period"])
    for kind, letters in (
        ("host", validation.HOST_NOTIFICATION_OPTIONS),
        ("service", validation.SERVICE_NOTIFICATION_OPTIONS),
    ):
        directive = f"{kind}_notification_options"
        if row.get(directive):
            block.add(
                directive,
                validation.check_options(row[directive], letters, what=f"{block.what}: {directive}"),
            )
    for kind, prefix in (("host", HOST_WRAPPER), ("service", SERVICE_WRAPPER)):
        directive = f"{kind}_notification_commands"
        names = [check_name(n, f"{block.what}: {directive}") for n in row.get(directive) or []]
        block.names(directive, [prefix + n if n in channels else n for n in names])
    return block.text()


def _render_group(kind: str, row: Row, members: list[str] | None = None) -> str:
    block = _Block(kind, f"{kind} {row['name']!r}")
    block.name(f"{kind}_name", row["name"], field="name")
    block.macro("alias", row.get("alias"))
    if members is not None:
        block.names("members", members)
    return block.text()


def _render_template(kind: str, row: Row, letters: frozenset[str]) -> str:
    spaces = kind == "service"
    block = _Block(kind, f"{kind} template {row['name']!r}")
    block.name("name", row["name"], allow_spaces=spaces)
    block.names("use", row.get("use") or [], allow_spaces=spaces)
    _check_settings(block, row, letters, service=kind == "service")
    block.add("register", "0")
    return block.text()


def _render_host(row: Row, default_contact_group: str = "") -> str:
    block = _Block("host", lambda: f"host {row['name']!r}")
    if str(row["name"]).startswith(PLACEHOLDER):
        raise NaemonValueError(f"{block.what}: names starting with {PLACEHOLDER!r} are the portal's own.")
    block.name("host_name", row["name"], field="name")
    block.macro("alias", row.get("alias"))
    block.macro("address", row.get("address"), check=validation.check_address, plain=_plain_address)
    # The default template last: every template the host names wins over it.
    block.names("use", [*(row.get("use") or []), DEFAULT_HOST_TEMPLATE], field="templates")
    block.names("hostgroups", row.get("hostgroups") or [])
    block.names("parents", row.get("parents") or [])
    block.names("contacts", row.get("contacts") or [])
    if not row.get("contacts") and not row.get("contact_groups") and default_contact_group:
        # Nobody assigned: the default group, not silence. Its services without contacts of
        # their own inherit it (Naemon's implied inheritance of a host's contacts).
        block.add("contact_groups", default_contact_group)
    else:
        block.names("contact_groups", row.get("contact_groups") or [])
    _check_settings(block, row, validation.HOST_NOTIFICATION_OPTIONS, service=False)
    return block.text()


def service_key(row: Row) -> str:
    """A service's identity for the change summary: ``host/description`` or ``@groups/description``."""
    where = row["host"] if row.get("host") else "@" + ",".join(row.get("hostgroups") or [])
    return f"{where}/{row['description']}"


def _render_service(row: Row) -> str:
    block = _Block("service", lambda: f"service {service_key(row)!r}")
    block.name("service_description", row["description"], allow_spaces=True, field="description")
    if row.get("host"):
        block.name("host_name", row["host"], field="host")
    block.names("hostgroup_name", row.get("hostgroups") or [], field="hostgroups")
    block.names(
        "use", [*(row.get("use") or []), DEFAULT_SERVICE_TEMPLATE], allow_spaces=True, field="templates"
    )
    block.names("servicegroups", row.get("servicegroups") or [])
    block.names("contacts", row.get("contacts") or [])
    block.names("contact_groups", row.get("contact_groups") or [])
    _check_settings(block, row, validation.SERVICE_NOTIFICATION_OPTIONS, service=True)
    return block.text()


def _by_name(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: r["name"])


# Nagios 4 refuses a config without a host, a service or a contact ("There are no services
# defined!"): a new site's first host, or a poller whose host groups are still empty, would
# never deploy. Such a node gets inert placeholders (no checks, no notifications) until it
# has objects of its own; the registry refuses user objects with these names.
PLACEHOLDER = validation.PLACEHOLDER_PREFIX
_INERT = """    active_checks_enabled 0
    passive_checks_enabled 0
    notifications_enabled 0
    notification_interval 0
    event_handler_enabled 0
    flap_detection_enabled 0
"""
PLACEHOLDER_COMMAND = f"""define command {{
    command_name {PLACEHOLDER}
    command_line /bin/true
}}
"""
PLACEHOLDER_CONTACT = f"""define contact {{
    contact_name {PLACEHOLDER}
    alias Placeholder: the core needs a contact; this portal has none yet
    host_notifications_enabled 0
    service_notifications_enabled 0
    host_notification_commands {PLACEHOLDER}
    service_notification_commands {PLACEHOLDER}
}}
"""
PLACEHOLDER_HOST = f"""define host {{
    host_name {PLACEHOLDER}
    alias Placeholder: the core needs a host and a service; this node has none yet
    check_command {PLACEHOLDER}
    max_check_attempts 1
{_INERT}}}
"""
PLACEHOLDER_SERVICE = f"""define service {{
    host_name {PLACEHOLDER}
    service_description placeholder
    check_command {PLACEHOLDER}
    max_check_attempts 1
    check_interval 60
    retry_interval 60
{_INERT}}}
"""


# Defaults a fresh site needs to verify without warnings ("no check_period", "no
# notification_period", "no contacts"), unless the registry says otherwise: a time period 24x7
# (the registry's own 24x7, if it has one), default templates that set the periods, used last
# by every host, service and contact (any period set on the object or through its templates
# wins), and a default contact group for hosts nobody is assigned to: the contacts of the
# portal's staff (like Nagios's stock "admins" group; not everyone: in a centre with thousands
# of users an unowned host must not page them all), or the registry's own group of that name.
# Without either, no such group: the verifier's "no contacts" warning then says, truthfully,
# that nobody would be told.
DEFAULT_PERIOD = "24x7"
DEFAULT_HOST_TEMPLATE = "portal-default-host"
DEFAULT_SERVICE_TEMPLATE = "portal-default-service"
DEFAULT_CONTACT_TEMPLATE = "portal-default-contact"
DEFAULT_CONTACT_GROUP = "portal-default-contacts"
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_TIMEPERIOD = (
    f"define timeperiod {{\n    timeperiod_name {DEFAULT_PERIOD}\n    alias 24 hours a day, 7 days a week\n"
    + "".join(f"    {day} 00:00-24:00\n" for day in _DAYS)
    + "}\n"
)
_PERIODS = (
    f"    check_period {DEFAULT_PERIOD}\n    notification_period {DEFAULT_PERIOD}\n    register 0\n}}\n"
)
DEFAULT_HOST_TEMPLATE_BLOCK = f"define host {{\n    name {DEFAULT_HOST_TEMPLATE}\n{_PERIODS}"
DEFAULT_SERVICE_TEMPLATE_BLOCK = f"define service {{\n    name {DEFAULT_SERVICE_TEMPLATE}\n{_PERIODS}"
DEFAULT_CONTACT_TEMPLATE_BLOCK = f"""define contact {{
    name {DEFAULT_CONTACT_TEMPLATE}
    host_notification_period {DEFAULT_PERIOD}
    service_notification_period {DEFAULT_PERIOD}
    register 0
}}
"""


def _default_contact_group(state: State) -> tuple[str, list[str]]:
    """The default contact group's name (empty: none, it would have no members) and its block, if ours."""
    for row in state.contactgroups:
        if row["name"] == DEFAULT_CONTACT_GROUP:
            return (DEFAULT_CONTACT_GROUP if row.get("members") else ""), []
    members = sorted(row["name"] for row in state.contacts if row.get("staff"))
    if not members:
        return "", []
    alias = "Portal staff, for hosts nobody is assigned to"
    block = _render_group("contactgroup", {"name": DEFAULT_CONTACT_GROUP, "alias": alias}, members)
    return DEFAULT_CONTACT_GROUP, [block]


def needs_placeholder(hosts: list[Row], services: list[Row]) -> bool:
    """Whether the core would find no host or no service in this node's config.

    Conservative: a service on host groups counts only when a rendered host is directly in
    one of them (membership through templates is not followed); the placeholders are
    harmless when the node has objects after all.
    """
    if not hosts:
        return True
    grouped = {group for row in hosts for group in row.get("hostgroups") or []}
    return not any(row.get("host") or grouped.intersection(row.get("hostgroups") or []) for row in services)


def _join(header: str, blocks: Iterable[str]) -> str:
    return header + "\n" + "\n".join(blocks)


def render_state(state: State, notify: NotifyFilter, *, node_name: str = "") -> Rendered:
    """Render a node's state into its files; raises NaemonValueError on any bad name or value."""
    header = (
        f"# Rendered by the monitoring portal{f' for node {node_name}' if node_name else ''}. Do not edit.\n"
    )
    commands = _by_name(state.commands)
    channels = {r["name"]: r["channel"] for r in commands if r.get("channel")}
    hosts = _by_name(state.hosts)
    services = sorted(
        state.services, key=lambda r: (r.get("host") or "", r.get("hostgroups") or [], r["description"])
    )

    # Definitions before the objects that reference them: a bad name is reported where it is defined.
    timeperiods = [_render_timeperiod(r) for r in _by_name(state.timeperiods)]
    if not any(r["name"] == DEFAULT_PERIOD for r in state.timeperiods):
        timeperiods.append(DEFAULT_TIMEPERIOD)
    command_blocks = _render_commands(commands, notify)
    _check_free_form_values(state, commands)
    contacts = [_render_contact(r, channels) for r in _by_name(state.contacts)]
    groups = [_render_group("hostgroup", row) for row in _by_name(state.hostgroups)]
    groups += [_render_group("servicegroup", row) for row in _by_name(state.servicegroups)]
    groups += [
        _render_group("contactgroup", row, sorted(row.get("members") or []))
        for row in _by_name(state.contactgroups)
    ]
    templates = [
        _render_template("host", row, validation.HOST_NOTIFICATION_OPTIONS)
        for row in _by_name(state.host_templates)
    ]
    templates += [
        _render_template("service", row, validation.SERVICE_NOTIFICATION_OPTIONS)
        for row in _by_name(state.service_templates)
    ]
    for rows, name, block in (
        (state.host_templates, DEFAULT_HOST_TEMPLATE, DEFAULT_HOST_TEMPLATE_BLOCK),
        (state.service_templates, DEFAULT_SERVICE_TEMPLATE, DEFAULT_SERVICE_TEMPLATE_BLOCK),
    ):
        if not any(r["name"] == name for r in rows):  # the registry's own template of that name wins
            templates.append(block)
    templates.append(DEFAULT_CONTACT_TEMPLATE_BLOCK)
    default_group, default_group_blocks = _default_contact_group(state)
    groups += default_group_blocks
    host_blocks = [_render_host(row, default_group) for row in hosts]
    service_blocks = [_render_service(row) for row in services]
    # Placeholders where the core would otherwise refuse the config; kept out of the per-host
    # digests: the change summary and the deploy's confirmation speak of registry objects only.
    extra_hosts: list[str] = []
    extra_services: list[str] = []
    if needs_placeholder(hosts, services):
        extra_hosts, extra_services = [PLACEHOLDER_HOST], [PLACEHOLDER_SERVICE]
    extra_contacts = [] if state.contacts else [PLACEHOLDER_CONTACT]
    extra_commands = [PLACEHOLDER_COMMAND] if extra_hosts or extra_contacts else []
    files = {
        "timeperiods.cfg": _join(header, timeperiods),
        "commands.cfg": _join(header, [*command_blocks, *extra_commands]),
        "contacts.cfg": _join(header, [*contacts, *extra_contacts]),
        "groups.cfg": _join(header, groups),
        "templates.cfg": _join(header, templates),
        "hosts.cfg": _join(header, [*host_blocks, *extra_hosts]),
        "services.cfg": _join(header, [*service_blocks, *extra_services]),
    }
    digest = hashlib.sha256()
    for name in FILES:
        data = files[name].encode("utf-8")
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return Rendered(
        files=files,
        content_hash=digest.hexdigest(),
        hosts={row["name"]: zlib.crc32(text.encode()) for row, text in zip(hosts, host_blocks, strict=True)},
        services={
            service_key(row): zlib.crc32(text.encode())
            for row, text in zip(services, service_blocks, strict=True)
        },
    )


# --- loading from the database --------------------------------------------------------


def default_notify_filter_path() -> str:
    """The notify-filter console script of the virtualenv this worker runs in (on the node)."""
    return str(Path(sys.executable).parent / "notify-filter")


def notify_filter_for(node: Any) -> NotifyFilter:
    """The notify-filter settings of a node."""
    return NotifyFilter(
        path=node.notify_filter_path or default_notify_filter_path(), notify_dir=node.notify_dir
    )


_CHECK_FIELDS = (
    "check_command_id",
    "check_interval",
    "retry_interval",
    "max_check_attempts",
    "check_period_id",
    "active_checks_enabled",
    "passive_checks_enabled",
    "notifications_enabled",
    "notification_interval",
    "notification_period_id",
    "notification_options",
    "notes",
)


def _json_text() -> dict[str, Any]:
    """The JSON fields as their text: decoding it here (cached) is much cheaper than per row in the ORM."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    return {
        "args_json": Cast("check_command_args", TextField()),
        "vars_json": Cast("custom_variables", TextField()),
    }


@functools.lru_cache(maxsize=8192)
def _decode(text: str | None) -> Any:
    # Shared between rows that hold the same JSON: the renderer only reads them.
    return json.loads(text) if text else None


def _tuples(queryset: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a values_list() query straight from the cursor.

    Around the ORM's per-row converters, which cost more than the rendering: every column
    read this way is a plain int, str, bool (0/1 on SQLite) or NULL, or JSON cast to text.
    """
    from django.db import connections

    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(20000):
            yield from batch


def _rows(queryset: Any, *fields: str) -> Iterator[Row]:
    """Rows as dicts of ``fields`` (model fields, then the JSON-as-text columns)."""
    # No ORDER BY: the renderer sorts in Python (and ordering by a join would add columns).
    annotated = queryset.order_by().annotate(**_json_text()).values_list(*fields, "args_json", "vars_json")
    names = (*fields, "args_json", "vars_json")
    for values in _tuples(annotated):
        # NULL means "inherit": leaving the key out keeps a million rows smaller (row.get() is None).
        yield {k: v for k, v in zip(names, values, strict=True) if v is not None}


def _pairs(queryset: Any, left: str, right: str) -> dict[int, list[int]]:
    """An m2m/through table as left id -> [right ids] in the table's order."""
    result: dict[int, list[int]] = defaultdict(list)
    for a, b in _tuples(queryset.values_list(left, right)):
        result[a].append(b)
    return result


_NONE: list[int] = []
_NONE_NAMES: list[str] = []


def _names(ids: Iterable[int], names: dict[int, str], *, keep_order: bool = False) -> list[str]:
    if ids is _NONE:
        return _NONE_NAMES  # shared: rows are only read
    found = [names[i] for i in ids if i in names]
    return found if keep_order or len(found) < 2 else sorted(found)


def _with_check_refs(row: Row, commands: dict[int, str], periods: dict[int, str]) -> Row:
    for key, table in (
        ("check_command", commands),
        ("check_period", periods),
        ("notification_period", periods),
    ):
        ref = row.pop(f"{key}_id", None)
        if ref is not None:
            row[key] = table.get(ref)
    for key, column in (("check_command_args", "args_json"), ("custom_variables", "vars_json")):
        value = _decode(row.pop(column, None))
        if value:
            row[key] = value
    return row


def load_state(node: Any) -> State:
    """Read what ``node`` monitors from the database, in a handful of queries (no per-object queries)."""
    from registry import models as m

    periods = dict(m.TimePeriod.objects.values_list("pk", "name"))
    commands = dict(m.Command.objects.values_list("pk", "name"))
    state = State()
    state.timeperiods = [dict(r) for r in m.TimePeriod.objects.values("name", "alias", "ranges")]
    state.commands = [
        dict(r) for r in m.Command.objects.values("name", "command_line", "channel", "free_form_args")
    ]

    host_cmds = _pairs(m.Contact.host_notification_commands.through.objects, "contact_id", "command_id")
    service_cmds = _pairs(m.Contact.service_notification_commands.through.objects, "contact_id", "command_id")
    for values in m.Contact.objects.values(
        "pk",
        "name",
        "alias",
        "email",
        "pager",
        "host_notification_period_id",
        "service_notification_period_id",
        "host_notification_options",
        "service_notification_options",
        "user__is_staff",
    ):
        row: Row = dict(values)
        pk = row.pop("pk")
        row["staff"] = bool(row.pop("user__is_staff"))
        row["host_notification_period"] = periods.get(row.pop("host_notification_period_id"))
        row["service_notification_period"] = periods.get(row.pop("service_notification_period_id"))
        row["host_notification_commands"] = _names(host_cmds.get(pk, []), commands)
        row["service_notification_commands"] = _names(service_cmds.get(pk, []), commands)
        state.contacts.append(row)
    contacts = dict(m.Contact.objects.values_list("pk", "name"))
    cg_members = _pairs(m.ContactGroup.members.through.objects, "contactgroup_id", "contact_id")
    for group in m.ContactGroup.objects.values("pk", "name", "alias"):
        row = dict(group)
        row["members"] = _names(cg_members.get(row.pop("pk"), []), contacts)
        state.contactgroups.append(row)
    contactgroups = dict(m.ContactGroup.objects.values_list("pk", "name"))
    servicegroups = dict(m.ServiceGroup.objects.values_list("pk", "name"))
    state.servicegroups = [dict(r) for r in m.ServiceGroup.objects.values("name", "alias")]

    for model, use_model, rows in (
        (m.HostTemplate, m.HostTemplateUse, state.host_templates),
        (m.ServiceTemplate, m.ServiceTemplateUse, state.service_templates),
    ):
        names = dict(model.objects.values_list("pk", "name"))
        uses = _pairs(use_model.objects.order_by("template_id", "position", "pk"), "template_id", "uses_id")
        for row in _rows(model.objects.all(), "pk", "name", *_CHECK_FIELDS):
            row["use"] = _names(uses.get(row.pop("pk"), _NONE), names, keep_order=True)
            rows.append(_with_check_refs(row, commands, periods))

    poller = node.role == NodeRole.POLLER
    host_qs = m.Host.objects.for_node(node)
    hostgroup_rows = {r["pk"]: r for r in m.HostGroup.objects.values("pk", "name", "alias", "node_id")}
    owned = {pk for pk, r in hostgroup_rows.items() if r["node_id"] == node.pk}
    hostgroups = {pk: r["name"] for pk, r in hostgroup_rows.items()}

    hosts_through: Any = m.Host.hostgroups.through.objects
    parents_through: Any = m.Host.parents.through.objects
    contacts_through: Any = m.Host.contacts.through.objects
    cgroups_through: Any = m.Host.contact_groups.through.objects
    uses_qs: Any = m.HostUse.objects.order_by("host_id", "position", "pk")
    if poller:
        ids = host_qs.values("pk")
        hosts_through = hosts_through.filter(host_id__in=ids)
        parents_through = parents_through.filter(from_host_id__in=ids)
        contacts_through = contacts_through.filter(host_id__in=ids)
        cgroups_through = cgroups_through.filter(host_id__in=ids)
        uses_qs = uses_qs.filter(host_id__in=ids)
    host_groups = _pairs(hosts_through, "host_id", "hostgroup_id")
    host_parents = _pairs(parents_through, "from_host_id", "to_host_id")
    host_contacts = _pairs(contacts_through, "host_id", "contact_id")
    host_cgroups = _pairs(cgroups_through, "host_id", "contactgroup_id")
    host_uses = _pairs(uses_qs, "host_id", "template_id")
    host_templates = dict(m.HostTemplate.objects.values_list("pk", "name"))

    host_rows = list(_rows(host_qs, "pk", "name", "alias", "address", *_CHECK_FIELDS))
    host_names = {r["pk"]: r["name"] for r in host_rows}
    referenced: set[int] = set()
    for row in host_rows:
        pk = row.pop("pk")
        groups = host_groups.get(pk, _NONE)
        referenced.update(groups)
        row["use"] = _names(host_uses.get(pk, _NONE), host_templates, keep_order=True)
        row["hostgroups"] = _names(groups, hostgroups)
        # On a poller, a parent monitored elsewhere is not defined here: leave it out.
        row["parents"] = _names(host_parents.get(pk, _NONE), host_names)
        row["contacts"] = _names(host_contacts.get(pk, _NONE), contacts)
        row["contact_groups"] = _names(host_cgroups.get(pk, _NONE), contactgroups)
        state.hosts.append(_with_check_refs(row, commands, periods))
    rendered_groups = (owned | referenced) if poller else set(hostgroup_rows)
    state.hostgroups = [
        {"name": hostgroup_rows[pk]["name"], "alias": hostgroup_rows[pk]["alias"]} for pk in rendered_groups
    ]

    _load_services(node, state, poller, host_names, owned, hostgroups, servicegroups, contacts, contactgroups)
    for row in state.services:
        _with_check_refs(row, commands, periods)
    return state


def _load_services(
    node: Any,
    state: State,
    poller: bool,
    host_names: dict[int, str],
    owned: set[int],
    hostgroups: dict[int, str],
    servicegroups: dict[int, str],
    contacts: dict[int, str],
    contactgroups: dict[int, str],
) -> None:
    from django.db.models import Q

    from registry import models as m

    services = m.Service.objects.all()
    if poller:
        services = services.filter(
            Q(host__in=m.Host.objects.for_node(node).values("pk")) | Q(hostgroups__node=node)
        ).distinct()
    ids = services.values("pk")

    def related(through: Any, right: str) -> dict[int, list[int]]:
        qs = through.objects if not poller else through.objects.filter(service_id__in=ids)
        return _pairs(qs, "service_id", right)

    groups = related(m.Service.hostgroups.through, "hostgroup_id")
    sgroups = related(m.Service.servicegroups.through, "servicegroup_id")
    scontacts = related(m.Service.contacts.through, "contact_id")
    scgroups = related(m.Service.contact_groups.through, "contactgroup_id")
    uses_qs = m.ServiceUse.objects.order_by("service_id", "position", "pk")
    uses = _pairs(uses_qs.filter(service_id__in=ids) if poller else uses_qs, "service_id", "template_id")
    templates = dict(m.ServiceTemplate.objects.values_list("pk", "name"))
    # On a poller only the host groups it owns carry services there (filtered below).
    for row in _rows(services, "pk", "description", "host_id", *_CHECK_FIELDS):
        pk = row.pop("pk")
        host_id = row.pop("host_id", None)
        host = host_names.get(host_id) if host_id is not None else None
        row["host"] = host
        group_ids = groups.get(pk, _NONE)
        if poller and group_ids:
            group_ids = [g for g in group_ids if g in owned]
        row["hostgroups"] = _names(group_ids, hostgroups)
        if host is None and not row["hostgroups"]:
            continue
        row["use"] = _names(uses.get(pk, _NONE), templates, keep_order=True)
        row["servicegroups"] = _names(sgroups.get(pk, _NONE), servicegroups)
        row["contacts"] = _names(scontacts.get(pk, _NONE), contacts)
        row["contact_groups"] = _names(scgroups.get(pk, _NONE), contactgroups)
        state.services.append(row)


def load_snapshot(node: Any) -> State:
    """load_state in one consistent snapshot of the database.

    The loader reads hosts, their templates, groups and services in separate queries: without
    one snapshot, a write committing in between gives a host without its template (a config
    the core rejects). PostgreSQL: a REPEATABLE READ, READ ONLY transaction; SQLite: any
    transaction reads one snapshot. Inside a caller's transaction, that one is used as it is.
    """
    from django.db import connection, transaction

    if connection.in_atomic_block:
        return load_state(node)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return load_state(node)


def render_node(node: Any) -> Rendered:
    """Render the latest registry state for ``node`` (one consistent snapshot of it)."""
    return render_state(load_snapshot(node), notify_filter_for(node), node_name=node.name)
