"""Naemon object config for one node, rendered from plain rows: no database, no Django.

``render_state(state, notify_paths)`` renders what a node monitors (a ``State``, which
registry/state.py reads from the database; ``state.render_node(node)`` does both): a few
files (each its blocks, streamed to disk by registry/versions.py; ``files`` joins them into
{name: text} for small nodes and tests), a content hash over all of them, and a small digest
per host and service so a deploy can say what changed.

The output is deterministic: objects sorted by name (in Python, so PostgreSQL and SQLite
collations agree), directives in a fixed order, one directive per line, the closing brace
on its own line. Every name and value is checked again here with registry/validation.py
(its ``plain_*`` fast paths first), so nothing unchecked reaches a file even when it got into
the database around the API: a bad value raises NaemonValueError naming the object and field,
and nothing is written.

What a node gets: a master, everything. A poller, the hosts of the host groups it owns and
their services, the services on those host groups, every host group it owns (also empty
ones) and the other host groups its hosts are in (so $HOSTGROUPNAMES$, which the
notify-filter matches rules on, is the same on every node). Parents monitored by another
node are left out on a poller. Time periods, commands, contacts, groups and templates go
to every node.

Contacts' notification commands are wrapped by the notify-filter, and a cluster node gets its
relay commands: those command lines are registry/render_commands.py's (re-exported here).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry import validation
from registry.render_commands import HOST_WRAPPER as HOST_WRAPPER
from registry.render_commands import NOTIFY_DIR_LABEL as NOTIFY_DIR_LABEL
from registry.render_commands import NOTIFY_FILTER_SUPPRESS as NOTIFY_FILTER_SUPPRESS
from registry.render_commands import NOTIFY_PREFIX as NOTIFY_PREFIX
from registry.render_commands import RELAY_HOST_COMMAND as RELAY_HOST_COMMAND
from registry.render_commands import RELAY_SERVICE_COMMAND as RELAY_SERVICE_COMMAND
from registry.render_commands import SERVICE_WRAPPER as SERVICE_WRAPPER
from registry.render_commands import SHARE_VARIABLE as SHARE_VARIABLE
from registry.render_commands import STALE_COMMAND as STALE_COMMAND
from registry.render_commands import ClusterPart as ClusterPart
from registry.render_commands import NotifyPaths as NotifyPaths
from registry.render_commands import Row as Row
from registry.render_commands import cluster_commands as cluster_commands
from registry.render_commands import gate_only_command_lines as gate_only_command_lines
from registry.render_commands import shell_structure as shell_structure
from registry.render_commands import wrapped_command_lines as wrapped_command_lines
from registry.render_commands import wrapped_commands as wrapped_commands
from registry.render_defaults import (
    DEFAULT_CONTACT_GROUP,
    DEFAULT_CONTACT_TEMPLATE,
    DEFAULT_CONTACT_TEMPLATE_BLOCK,
    DEFAULT_HOST_TEMPLATE,
    DEFAULT_HOST_TEMPLATE_BLOCK,
    DEFAULT_PERIOD,
    DEFAULT_SERVICE_TEMPLATE,
    DEFAULT_SERVICE_TEMPLATE_BLOCK,
    DEFAULT_TIMEPERIOD,
    PLACEHOLDER,
    PLACEHOLDER_COMMAND,
    PLACEHOLDER_CONTACT,
    PLACEHOLDER_HOST,
    PLACEHOLDER_SERVICE,
)
from registry.render_relations import Relations, render_relations
from registry.validation import NaemonValueError

FILES = (
    "timeperiods.cfg",
    "commands.cfg",
    "contacts.cfg",
    "groups.cfg",
    "templates.cfg",
    "hosts.cfg",
    "services.cfg",
    "relations.cfg",
)


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
    #: The node's part in a cluster (None: it checks and notifies everything it holds).
    cluster: ClusterPart | None = None
    #: Dependencies and escalations (registry/render_relations.py renders those the node holds).
    relations: Relations = field(default_factory=Relations)


@dataclass
class Rendered:
    """The rendered config of one node: each file as its header and its blocks, written as a stream.

    A file's text is ``header + "\n" + "\n".join(blocks)``; ``chunks`` yields it encoded, a
    batch of blocks at a time, so that a deploy writes a million objects without holding their
    text twice more (one joined string, its encoding); ``files`` joins them for small nodes and tests.
    """

    header: str
    blocks: dict[str, list[str]]
    content_hash: str
    #: host name -> CRC of its definition; service key ("host/description", or
    #: "@group1,group2/description" on host groups) -> CRC; for the "what changed" summary.
    hosts: dict[str, int]
    services: dict[str, int]
    #: The input digest of each host and service block, in file order (``stanza_input``):
    #: kept with the version so that the next render reuses the blocks whose input is unchanged.
    host_inputs: list[bytes] = field(default_factory=list)
    service_inputs: list[bytes] = field(default_factory=list)

    @functools.cached_property
    def files(self) -> dict[str, str]:
        """Every file's text ({name: text}): the whole config in memory, for small nodes and tests."""
        return {name: _join(self.header, self.blocks[name]) for name in FILES}

    def chunks(self, name: str) -> Iterator[bytes]:
        """File ``name`` as UTF-8, in pieces of a few thousand blocks, that together make its text."""
        blocks = self.blocks[name]
        yield (self.header + "\n").encode()
        for start in range(0, len(blocks), _BATCH):
            text = "\n".join(blocks[start : start + _BATCH])
            yield (("\n" + text) if start else text).encode()

    def size(self, name: str) -> int:
        """The length of file ``name`` in bytes, without encoding it all at once."""
        blocks = self.blocks[name]
        header = len((self.header + "\n").encode())
        if all(map(str.isascii, blocks)):
            return header + sum(map(len, blocks)) + max(len(blocks) - 1, 0)
        return header + sum(len(b.encode()) for b in blocks) + max(len(blocks) - 1, 0)


#: Blocks per piece of a streamed file: a few hundred kB, few enough calls to the hash and write.
_BATCH = 4096


#: Input digest -> the host or service block rendered from it (registry/versions.py reads one
#: back from the live version): a render takes a block from here instead of rendering it again.
StanzaCache = dict[bytes, str]

#: The size of an input digest (blake2b): 16 bytes, so a million objects' digests fit in 16 MB.
INPUT_DIGEST_SIZE = 16

# The modules whose code decides a block's text: a block cached by other code is not reused.
_RENDER_CODE = ("render.py", "render_commands.py", "render_defaults.py", "validation.py")


@functools.cache
def _code_key() -> bytes:
    digest = hashlib.blake2b(digest_size=32)
    for name in _RENDER_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.digest()


def stanza_input(row: Row, default_contact_group: str = "") -> bytes:
    """The digest of everything a host or service block is rendered from.

    A block is a pure function of its row (names, not ids: a renamed template or group changes
    the rows that name it), the default contact group (hosts only) and the renderer's code;
    the digest covers all three, so equal digests mean byte-for-byte equal blocks.

    Over the row's pickle, not its repr: a third of the cost, and as exact (equal pickles
    unpickle to equal rows; equal rows built differently may differ, which costs a render, no more).
    """
    data = pickle.dumps((default_contact_group, row), protocol=5)
    return hashlib.blake2b(data, digest_size=INPUT_DIGEST_SIZE, key=_code_key()).digest()


def content_hash(files: Mapping[str, str | bytes]) -> str:
    """The digest of a node's config: every file of FILES, by name and length, in order."""
    return streamed_hash((len(data), [data]) for data in _encoded(files))


def _encoded(files: Mapping[str, str | bytes]) -> Iterator[bytes]:
    for name in FILES:
        value = files[name]
        yield value.encode("utf-8") if isinstance(value, str) else value


def streamed_hash(files: Iterable[tuple[int, Iterable[bytes]]]) -> str:
    """``content_hash`` of FILES given in order as (length in bytes, pieces): the same digest, streamed."""
    digest = hashlib.sha256()
    for name, (size, pieces) in zip(FILES, files, strict=True):
        digest.update(f"{name}\0{size}\0".encode())
        for piece in pieces:
            digest.update(piece)
    return digest.hexdigest()


# --- rendering ------------------------------------------------------------------------


_plain_name = validation.plain_name
_plain_value = validation.plain_value
_plain_macro = validation.plain_macro
_plain_address = validation.plain_address


def _never(value: Any) -> bool:
    return False


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
            validation.check_value(value, what=f"{self.what}: {field or directive}")
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
            check(value, what=f"{self.what}: {field or directive}")
        self.add(directive, value, field=field)

    def checked_name(self, value: Any, field: str, allow_spaces: bool = False) -> str:
        if _plain_name(value, allow_spaces):
            return str(value)
        return validation.check_name(value, what=f"{self.what}: {field}", allow_spaces=allow_spaces)

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
            parts.append(arg)
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
    _object_directives(block, row, service=service)
    # Stored on objects, and set by the cluster's roles where a node holds a copy (registry/state.py).
    block.flag("obsess", get("obsess"))
    block.flag("check_freshness", get("check_freshness"))
    block.number("freshness_threshold", get("freshness_threshold"))
    variables = get("custom_variables")
    if variables:
        _custom_variables(block, variables)


def _object_directives(block: _Block, row: Row, *, service: bool) -> None:
    """Event handler, flap detection, data retention, URLs and display: each as the core reads it."""
    get = row.get
    if get("event_handler"):
        block.name("event_handler", row["event_handler"])
    block.flag("event_handler_enabled", get("event_handler_enabled"))
    block.flag("flap_detection_enabled", get("flap_detection_enabled"))
    low, high = get("low_flap_threshold"), get("high_flap_threshold")
    for directive, value in (("low_flap_threshold", low), ("high_flap_threshold", high)):
        if value is not None and (type(value) not in (int, float) or value != value):
            raise NaemonValueError(f"{block.what}: {directive} must be a number.")
    problems = validation.check_flap_thresholds(low, high)
    if problems:
        raise NaemonValueError(f"{block.what}: {' '.join(problems.values())}")
    for directive, value in (("low_flap_threshold", low), ("high_flap_threshold", high)):
        if value is not None:
            block.add(directive, f"{value:g}")  # 20.0 -> 20: the same value, one spelling
    if get("flap_detection_options"):
        letters = validation.SERVICE_FLAP_OPTIONS if service else validation.HOST_FLAP_OPTIONS
        what = f"{block.what}: flap_detection_options"
        block.add(
            "flap_detection_options",
            validation.check_options(row["flap_detection_options"], letters, what=what),
        )
    if service:
        block.flag("is_volatile", get("is_volatile"))
    block.flag("process_perf_data", get("process_perf_data"))
    block.flag("retain_status_information", get("retain_status_information"))
    block.flag("retain_nonstatus_information", get("retain_nonstatus_information"))
    for directive in ("notes_url", "action_url"):
        if get(directive):
            block.add(directive, validation.check_url(row[directive], what=f"{block.what}: {directive}"))
    block.macro("display_name", get("display_name"))
    block.value("icon_image", get("icon_image"))
    block.macro("icon_image_alt", get("icon_image_alt"))


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
        block.add(name, value, field=label)


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
        block.add(
            validation.check_timeperiod_day(day, what=what),
            validation.check_time_ranges(ranges[day], what=what),
        )
    block.names("exclude", row.get("exclude") or [])
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
    block.add("command_line", line)
    return block.text()


def _render_commands(rows: list[Row], notify: NotifyPaths, wrapped: set[str]) -> list[str]:
    blocks = []
    for row in rows:
        what = f"command {row['name']!r}"
        for prefix in (NOTIFY_PREFIX, PLACEHOLDER):
            if row["name"].startswith(prefix):
                raise NaemonValueError(f"{what}: names starting with {prefix!r} are the portal's own.")
        blocks.append(_render_command(row["name"], row["command_line"], what, row.get("free_form_args")))
        if row["name"] in wrapped:
            # Without a channel no rule applies, but the cluster gate must: else every holder sends.
            lines = wrapped_command_lines if row.get("channel") else gate_only_command_lines
            host_line, service_line = lines(row, notify)
            blocks.append(_render_command(HOST_WRAPPER + row["name"], host_line, what))
            blocks.append(_render_command(SERVICE_WRAPPER + row["name"], service_line, what))
    return blocks


def _render_contact(row: Row, wrapped: set[str]) -> str:
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
        names = [block.checked_name(n, directive) for n in row.get(directive) or []]
        block.names(directive, [prefix + n if n in wrapped else n for n in names])
    return block.text()


def _render_group(kind: str, row: Row, members: list[str] | None = None) -> str:
    block = _Block(kind, f"{kind} {row['name']!r}")
    block.name(f"{kind}_name", row["name"], field="name")
    block.macro("alias", row.get("alias"))
    if members is not None:
        block.names("members", members)
    block.names(f"{kind}_members", row.get(f"{kind}_members") or [])
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
    elif row.get("exclude_hosts"):
        # The cluster's split of a service on host groups of several owners (registry/state.py).
        names = [block.checked_name(name, "exclude_hosts") for name in row["exclude_hosts"]]
        block.add("host_name", ",".join(f"!{name}" for name in names))
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


def _relations(state: State) -> list[str]:
    services = {(row["host"], row["description"]) for row in state.services if row.get("host")}
    return render_relations(state.relations, {row["name"] for row in state.hosts}, services)


def render_state(
    state: State, notify: NotifyPaths, *, node_name: str = "", cache: StanzaCache | None = None
) -> Rendered:
    """Render a node's state into its files; raises NaemonValueError on any bad name or value.

    ``cache``: blocks of an earlier render by input digest; a host or service whose input is
    unchanged takes its block from there (the same bytes, not rendered and checked again).
    """
    cache = cache or {}
    header = (
        f"# Rendered by the monitoring portal{f' for node {node_name}' if node_name else ''}. Do not edit.\n"
    )
    commands = _by_name(state.commands)
    wrapped = wrapped_commands(commands, state.contacts)
    hosts = _by_name(state.hosts)
    services = sorted(
        state.services, key=lambda r: (r.get("host") or "", r.get("hostgroups") or [], r["description"])
    )

    # Definitions before the objects that reference them: a bad name is reported where it is defined.
    timeperiods = [_render_timeperiod(r) for r in _by_name(state.timeperiods)]
    if not any(r["name"] == DEFAULT_PERIOD for r in state.timeperiods):
        timeperiods.append(DEFAULT_TIMEPERIOD)
    command_blocks = _render_commands(commands, notify, wrapped)
    if state.cluster is not None:
        stale = any(row.get("check_command") == STALE_COMMAND for row in state.services)
        command_blocks += cluster_commands(state.cluster, stale)
    _check_free_form_values(state, commands)
    contacts = [_render_contact(r, wrapped) for r in _by_name(state.contacts)]
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
    # Only a host with no contacts of its own gets the default group: only its block depends on it.
    host_inputs = [
        stanza_input(row, "" if row.get("contacts") or row.get("contact_groups") else default_group)
        for row in hosts
    ]
    service_inputs = [stanza_input(row) for row in services]
    host_blocks = [
        cache.get(key) or _render_host(row, default_group)
        for key, row in zip(host_inputs, hosts, strict=True)
    ]
    service_blocks = [
        cache.get(key) or _render_service(row) for key, row in zip(service_inputs, services, strict=True)
    ]
    # Placeholders where the core would otherwise refuse the config; kept out of the per-host
    # digests: the change summary and the deploy's confirmation speak of registry objects only.
    extra_hosts: list[str] = []
    extra_services: list[str] = []
    if needs_placeholder(hosts, services):
        extra_hosts, extra_services = [PLACEHOLDER_HOST], [PLACEHOLDER_SERVICE]
    extra_contacts = [] if state.contacts else [PLACEHOLDER_CONTACT]
    extra_commands = [PLACEHOLDER_COMMAND] if extra_hosts or extra_contacts else []
    hosts_crc = {row["name"]: zlib.crc32(text.encode()) for row, text in zip(hosts, host_blocks, strict=True)}
    services_crc = {
        service_key(row): zlib.crc32(text.encode())
        for row, text in zip(services, service_blocks, strict=True)
    }
    # Extended in place, not copied: the host and service lists are most of the output.
    host_blocks += extra_hosts
    service_blocks += extra_services
    blocks = {
        "timeperiods.cfg": timeperiods,
        "commands.cfg": [*command_blocks, *extra_commands],
        "contacts.cfg": [*contacts, *extra_contacts],
        "groups.cfg": groups,
        "templates.cfg": templates,
        "hosts.cfg": host_blocks,
        "services.cfg": service_blocks,
        "relations.cfg": _relations(state),
    }
    result = Rendered(
        header=header,
        blocks=blocks,
        content_hash="",
        hosts=hosts_crc,
        services=services_crc,
        host_inputs=host_inputs,
        service_inputs=service_inputs,
    )
    result.content_hash = streamed_hash((result.size(name), result.chunks(name)) for name in FILES)
    return result
