"""The notify-filter's and the cluster's command lines: what wraps a contact's notification command.

Contacts' notification commands are wrapped by the notify-filter: each command with a
``channel`` gets two extra definitions, ``notify-filter-host__<name>`` and
``notify-filter-service__<name>``, that run the filter with Naemon's macros (each quoted) in
its gate form, ``notify-filter ... || [ $$? -ne 86 ] || exit 0 && ( <the command's own line> )``;
contacts reference those. A notification command without a channel that a contact uses is
wrapped the same way in the filter's ``--gate-only`` form: no rules, only the cluster gate, so
that of the nodes holding an object only its notifier sends. The filter gets every path it uses
on the command line (``NotifyPaths``, from ``NaemonNode.notify_paths()``): it relies on no
default. Only the filter's own "suppress" exits 86: any other status (the filter missing, not
executable, crashing) runs the whole line, so a broken filter sends rather than drops; a
suppressed notification runs no part of the line, pipelines included.

Split from registry/render.py (which renders the objects and re-exports these names); no
database, no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from registry import validation

Row = dict[str, Any]

NOTIFY_PREFIX = validation.NOTIFY_FILTER_PREFIX
HOST_WRAPPER = "notify-filter-host__"
SERVICE_WRAPPER = "notify-filter-service__"
# How errors name the notify-filter's files: they lie under the node's notify_dir.
NOTIFY_DIR_LABEL = "the node's notify_dir"
# The notify-filter's exit status for "do not send" (preferences/notify_filter.py's
# SUPPRESS_STATUS; registry imports nothing of preferences): no shell or Python failure uses it.
NOTIFY_FILTER_SUPPRESS = 86


@dataclass(frozen=True)
class ClusterPart:
    """What a node of a cluster needs beyond its objects' roles (registry/cluster.py).

    The roles are in the rows: the state loader sets ``active_checks_enabled``,
    ``passive_checks_enabled``, ``obsess``, and on a passive copy of an object a poller checks,
    ``check_freshness``/``freshness_threshold`` with the ``portal-stale`` check command. Who
    notifies is not in the config: every copy notifies through the notify-filter, whose cluster
    gate (the preferences snapshot) lets the notifier's notifications out only.
    """

    #: Where this node's relay hands the results of the objects it checks (the other holders).
    relay_targets: tuple[str, ...] = ()
    #: The ``portal-relay`` program on this node and its log file.
    relay_program: str = ""
    relay_log: str = ""
    #: Whether to define the relay commands even with no target: a node names them in its main
    #: config (ocsp_command, docs/cluster.md), and the core refuses a config without them. Every
    #: node has them (a node alone is a cluster of one); only objects with a target obsess.
    relay_commands: bool = False


@dataclass(frozen=True)
class NotifyPaths:
    """Where the notify-filter runs on a node and where it keeps its files (``NaemonNode.notify_paths()``)."""

    filter: str
    snapshot_dir: str
    state_dir: str
    decision_log: str


def _quoted(macro: str) -> str:
    return f'"${macro}$"'


def _filter_files(notify: NotifyPaths, *, state: bool = True) -> list[str]:
    """The paths the filter uses, always: its built-in defaults are for hand-run filters only."""
    validation.check_path(notify.filter, "the notify-filter path")
    paths = [("--snapshot-dir", notify.snapshot_dir)]
    if state:  # the gate-only form keeps no records
        paths.append(("--state-dir", notify.state_dir))
    paths.append(("--log", notify.decision_log))
    files: list[str] = []
    for option, path in paths:
        files += [option, f'"{validation.check_path(path, NOTIFY_DIR_LABEL)}"']
    return files


def wrapped_command_lines(row: Row, notify: NotifyPaths) -> tuple[str, str]:
    """The host and service notification command lines of a notification command, through the filter."""
    channel = validation.check_channel(row.get("channel") or "", f"command {row['name']!r}")
    files = _filter_files(notify)
    common = [notify.filter, "--contact", _quoted("CONTACTNAME"), "--channel", channel]
    common += ["--type", _quoted("NOTIFICATIONTYPE"), "--host", _quoted("HOSTNAME")]
    common += ["--hostgroups", _quoted("HOSTGROUPNAMES")]
    host = [*common, "--state", _quoted("HOSTSTATE"), "--id", _quoted("HOSTNOTIFICATIONID")]
    host += ["--problem-id", _quoted("HOSTPROBLEMID"), "--last-problem-id", _quoted("LASTHOSTPROBLEMID")]
    # The state a RECOVERY ends: decides it on a node that never saw its PROBLEM (a failover).
    host += ["--last-state", _quoted("LASTHOSTSTATE")]
    service = [*common, "--service", _quoted("SERVICEDESC"), "--servicegroups", _quoted("SERVICEGROUPNAMES")]
    service += ["--share", _quoted(f"_SERVICE{SHARE_VARIABLE[1:]}")]
    service += ["--state", _quoted("SERVICESTATE"), "--id", _quoted("SERVICENOTIFICATIONID")]
    service += ["--problem-id", _quoted("SERVICEPROBLEMID")]
    service += [
        "--last-problem-id",
        _quoted("LASTSERVICEPROBLEMID"),
        "--last-state",
        _quoted("LASTSERVICESTATE"),
    ]
    return _gated(host, files, row), _gated(service, files, row)


def gate_only_command_lines(row: Row, notify: NotifyPaths) -> tuple[str, str]:
    """The host and service lines of a notification command without a channel: the cluster gate only.

    No rule matches a command without a channel, but in a cluster every node that holds a copy
    of an object runs its notifications (registry/state.py): the filter's ``--gate-only`` lets
    them out on the object's notifier only (no rules, no records), in the same shell form.
    """
    files = _filter_files(notify, state=False)
    common = [notify.filter, "--gate-only", "--contact", _quoted("CONTACTNAME")]
    common += ["--type", _quoted("NOTIFICATIONTYPE"), "--host", _quoted("HOSTNAME")]
    common += ["--hostgroups", _quoted("HOSTGROUPNAMES")]
    host = [*common, "--state", _quoted("HOSTSTATE"), "--id", _quoted("HOSTNOTIFICATIONID")]
    service = [*common, "--service", _quoted("SERVICEDESC"), "--state", _quoted("SERVICESTATE")]
    service += ["--id", _quoted("SERVICENOTIFICATIONID"), "--share", _quoted(f"_SERVICE{SHARE_VARIABLE[1:]}")]
    return _gated(host, files, row), _gated(service, files, row)


def _gated(filter_call: list[str], files: list[str], row: Row) -> str:
    """``filter_call files`` in front of the command's own line, which runs unless the filter says 86."""
    # The filter only decides; the shell runs the whole line unless the filter exited with
    # exactly NOTIFY_FILTER_SUPPRESS. Not the exec form (filter -- LINE): a filter that cannot
    # start would run nothing. Set -e safe (only the last command of an AND-OR list counts);
    # "exit 0": a suppressed notification is no failed command in Naemon's log; no ';' (a
    # comment in object files); $$ is Naemon's escaped $. The '|' and '$' also make Naemon run
    # the line through /bin/sh: it execs a line without shell metacharacters directly.
    _, line = shell_structure(row["command_line"])
    tail = ["||", "[", "$$?", "-ne", str(NOTIFY_FILTER_SUPPRESS), "]", "||", "exit", "0", "&&"]
    tail += ["(", line or ":", ")"]
    return " ".join([*filter_call, *files, *tail])


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


RELAY_SERVICE_COMMAND = "portal-relay-service"
RELAY_HOST_COMMAND = "portal-relay-host"
STALE_COMMAND = "portal-stale"
#: On a service defined on the masters' host groups: its share is the masters' ("*") even when a
#: member host is a poller's (the notify-filter's --share, registry/state.py).
SHARE_VARIABLE = "_PORTAL_SHARE"
_RELAY_MACROS = {
    "service": ("HOSTNAME", "SERVICEDESC", "SERVICESTATEID", "LASTSERVICECHECK", "SERVICEOUTPUT",
                "LONGSERVICEOUTPUT", "SERVICEPERFDATA"),
    "host": ("HOSTNAME", "HOSTSTATEID", "LASTHOSTCHECK", "HOSTOUTPUT", "LONGHOSTOUTPUT", "HOSTPERFDATA"),
}  # fmt: skip


def cluster_commands(part: ClusterPart, stale: bool) -> list[str]:
    """The relay commands (the node's ``ocsp_command``/``ochp_command``) and the stale-copy check.

    The relay gets every target and its log on the command line, the check result as quoted
    macros (see livestatus/relay.py). The stale check runs when a passive copy got no result
    for its freshness threshold: UNKNOWN, naming the node that should have sent one.
    """
    blocks = []
    if part.relay_targets or part.relay_commands:
        program = validation.check_path(part.relay_program, "the relay path")
        log = validation.check_path(part.relay_log, NOTIFY_DIR_LABEL)
        common = [program]
        for target in part.relay_targets:
            common += ["--to", validation.check_relay_target(target, "a node's relay target")]
        common += ["--log", log]
        for name, kind in ((RELAY_SERVICE_COMMAND, "service"), (RELAY_HOST_COMMAND, "host")):
            # Single quotes: the shell expands nothing in them, and the core strips ' from
            # output macros (illegal_macro_output_chars, docs/cluster.md).
            line = " ".join([*common, kind, *(f"'${m}$'" for m in _RELAY_MACROS[kind])])
            blocks.append(f"define command {{\n    command_name {name}\n    command_line {line}\n}}\n")
    if stale:
        line = "/usr/bin/printf 'UNKNOWN: no check result from node %s for more than %s s\\n' '$ARG1$' '$ARG2$' && exit 3"
        blocks.append(f"define command {{\n    command_name {STALE_COMMAND}\n    command_line {line}\n}}\n")
    return blocks


def wrapped_commands(commands: list[Row], contacts: list[Row]) -> set[str]:
    """The commands contacts reach through the filter: those with a channel and any other a contact uses."""
    used = {
        name
        for contact in contacts
        for directive in ("host_notification_commands", "service_notification_commands")
        for name in contact.get(directive) or []
    }
    return {row["name"] for row in commands if row.get("channel") or row["name"] in used}
