r"""External commands (``COMMAND [time] NAME;arg;arg``) with validated arguments.

A command is one line; its arguments are separated by ``;``. So no argument may
contain a line break, and no argument may contain ``;`` - except free text in
the *last* field: Naemon splits on ``;`` only up to the number of arguments the
command takes and gives the rest, semicolons included, to a final string
argument (``parse_arguments`` in naemon-core's ``commands.c``), and Icinga 2
does the same. So ``comment="disk full; ticket 42"`` is safe when the comment
is the last field, and an object name with ``;`` is refused everywhere (it
would shift every following argument).

Naemon and Icinga 2 accept the same commands used here, but not the same
bytes: naemon-livestatus passes every ``COMMAND`` line through its
``unescape_newlines()`` (src/strutil.cc) before the core parses it - a
backslash followed by ``n`` becomes a real line break and a backslash before
any other character is dropped (``\\`` gives ``\``). Sent as it is, a comment
holding the two characters ``\n`` would reach Naemon as two lines, and Naemon
writes comments unescaped into retention.dat and status.dat, where the second
line is read back as a directive at the next restart. So for a server that
unescapes, every backslash is doubled on the wire (:func:`naemon_escape`):
Naemon's unescaping then gives back exactly the caller's text, and since a
line break is refused in every argument, no argument can end up holding one.
Icinga 2 takes the line verbatim, so it gets the text as it is.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

from livestatus.client.errors import UnsafeValueError
from livestatus.client.query import check_value, encode_lines

_COMMAND_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*\Z")

Timestamp = int | float | datetime


@dataclass(frozen=True)
class Command:
    """An external command; build it with the helpers below, send it with ``client.command``."""

    name: str
    args: tuple[str, ...] = ()
    #: The last argument is free text and may contain ``;`` (see the module docstring).
    free_text_last: bool = False

    def __post_init__(self) -> None:
        if not _COMMAND_NAME_RE.match(self.name):
            raise UnsafeValueError(f"not an external command name: {self.name!r}")
        for index, arg in enumerate(self.args):
            if not isinstance(arg, str):
                raise TypeError(f"{self.name} argument {index + 1} must be str, not {arg!r}")
            check_value(arg, f"{self.name} argument {index + 1}")
            last = index == len(self.args) - 1
            if ";" in arg and not (last and self.free_text_last):
                raise UnsafeValueError(
                    f"{self.name} argument {index + 1} may not contain ';' "
                    f"(it would split into two arguments): {arg[:60]!r}"
                )

    def line(self, timestamp: int) -> str:
        """The command line as the core should understand it (what the action log shows)."""
        return ";".join((f"COMMAND [{int(timestamp)}] {self.name}", *self.args))

    def wire_line(self, timestamp: int, *, unescapes: bool) -> str:
        """The command line as sent; ``unescapes``: the server applies Naemon's unescaping."""
        args = tuple(naemon_escape(arg) for arg in self.args) if unescapes else self.args
        return ";".join((f"COMMAND [{int(timestamp)}] {self.name}", *args))

    def encode(self, timestamp: int, *, unescapes: bool) -> bytes:
        """The request: the wire line and the empty line that ends a request."""
        return encode_lines([self.wire_line(timestamp, unescapes=unescapes)])


def naemon_escape(text: str) -> str:
    """``text`` such that naemon-livestatus's ``unescape_newlines()`` gives ``text`` back.

    Its rule: ``\\n`` becomes a line break, ``\\`` + any other character becomes
    that character, a lone trailing backslash is dropped. Doubling every
    backslash therefore decodes to the original, and leaves no ``\\n`` pair
    that could decode to a line break.
    """
    return text.replace("\\", "\\\\")


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise UnsafeValueError(f"{what} must be a non-empty string, not {value!r}")
    check_value(value, what)
    if ";" in value:
        raise UnsafeValueError(f"{what} may not contain ';': {value[:60]!r}")
    return value


def _text(value: str, what: str) -> str:
    # Free text: ';' is allowed (only ever used as the last field), newlines are not.
    if not isinstance(value, str) or not value.strip():
        raise UnsafeValueError(f"{what} must be non-empty text, not {value!r}")
    return check_value(value, what)


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _time(value: Timestamp | None) -> int:
    if value is None:
        return int(time.time())
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("use an aware datetime (with tzinfo) for command times")
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"not a timestamp: {value!r}")
    return int(value)


def _int(value: int, what: str, low: int, high: int | None = None) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {value!r}")
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f"..{high}"
        raise ValueError(f"{what} must be in {low}{upper}, not {value}")
    return str(value)


# -- acknowledgements ----------------------------------------------------------


def acknowledge_service(
    host: str,
    service: str,
    comment: str,
    *,
    author: str,
    sticky: bool = True,
    notify: bool = True,
    persistent: bool = False,
) -> Command:
    """ACKNOWLEDGE_SVC_PROBLEM; sticky keeps it until the service is OK again."""
    return Command(
        "ACKNOWLEDGE_SVC_PROBLEM",
        (
            _name(host, "host name"),
            _name(service, "service description"),
            "2" if sticky else "1",
            _flag(notify),
            _flag(persistent),
            _name(author, "author"),
            _text(comment, "comment"),
        ),
        free_text_last=True,
    )


def acknowledge_host(
    host: str,
    comment: str,
    *,
    author: str,
    sticky: bool = True,
    notify: bool = True,
    persistent: bool = False,
) -> Command:
    """ACKNOWLEDGE_HOST_PROBLEM; sticky keeps it until the host is UP again."""
    return Command(
        "ACKNOWLEDGE_HOST_PROBLEM",
        (
            _name(host, "host name"),
            "2" if sticky else "1",
            _flag(notify),
            _flag(persistent),
            _name(author, "author"),
            _text(comment, "comment"),
        ),
        free_text_last=True,
    )


def remove_service_acknowledgement(host: str, service: str) -> Command:
    """REMOVE_SVC_ACKNOWLEDGEMENT."""
    return Command(
        "REMOVE_SVC_ACKNOWLEDGEMENT",
        (_name(host, "host name"), _name(service, "service description")),
    )


def remove_host_acknowledgement(host: str) -> Command:
    """REMOVE_HOST_ACKNOWLEDGEMENT."""
    return Command("REMOVE_HOST_ACKNOWLEDGEMENT", (_name(host, "host name"),))


# -- downtimes -----------------------------------------------------------------


def _downtime_window(
    start: Timestamp, end: Timestamp, fixed: bool, duration: int | None
) -> tuple[str, str, str, str]:
    start_ts, end_ts = _time(start), _time(end)
    if end_ts <= start_ts:
        raise ValueError(f"downtime must end after it starts ({start_ts} >= {end_ts})")
    if fixed:
        # Naemon wants a duration even for fixed downtimes; it is the window.
        duration = end_ts - start_ts if duration is None else duration
    elif duration is None:
        raise ValueError("a flexible downtime needs a duration (seconds)")
    return str(start_ts), str(end_ts), _flag(fixed), _int(duration, "duration", 1)


def schedule_service_downtime(
    host: str,
    service: str,
    start: Timestamp,
    end: Timestamp,
    comment: str,
    *,
    author: str,
    fixed: bool = True,
    duration: int | None = None,
    trigger_id: int = 0,
) -> Command:
    """SCHEDULE_SVC_DOWNTIME: fixed (start..end) or flexible (``duration`` s, starting within start..end)."""
    start_s, end_s, fixed_s, duration_s = _downtime_window(start, end, fixed, duration)
    return Command(
        "SCHEDULE_SVC_DOWNTIME",
        (
            _name(host, "host name"),
            _name(service, "service description"),
            start_s,
            end_s,
            fixed_s,
            _int(trigger_id, "trigger id", 0),
            duration_s,
            _name(author, "author"),
            _text(comment, "comment"),
        ),
        free_text_last=True,
    )


def schedule_host_downtime(
    host: str,
    start: Timestamp,
    end: Timestamp,
    comment: str,
    *,
    author: str,
    fixed: bool = True,
    duration: int | None = None,
    trigger_id: int = 0,
) -> Command:
    """SCHEDULE_HOST_DOWNTIME: fixed (start..end) or flexible (``duration`` s, starting within start..end)."""
    start_s, end_s, fixed_s, duration_s = _downtime_window(start, end, fixed, duration)
    return Command(
        "SCHEDULE_HOST_DOWNTIME",
        (
            _name(host, "host name"),
            start_s,
            end_s,
            fixed_s,
            _int(trigger_id, "trigger id", 0),
            duration_s,
            _name(author, "author"),
            _text(comment, "comment"),
        ),
        free_text_last=True,
    )


def delete_service_downtime(downtime_id: int) -> Command:
    """DEL_SVC_DOWNTIME by the id from the ``downtimes`` table."""
    return Command("DEL_SVC_DOWNTIME", (_int(downtime_id, "downtime id", 0),))


def delete_host_downtime(downtime_id: int) -> Command:
    """DEL_HOST_DOWNTIME by the id from the ``downtimes`` table."""
    return Command("DEL_HOST_DOWNTIME", (_int(downtime_id, "downtime id", 0),))


# -- checks, comments, program -------------------------------------------------


def schedule_forced_service_check(host: str, service: str, when: Timestamp | None = None) -> Command:
    """SCHEDULE_FORCED_SVC_CHECK at ``when`` (default now), even if checks are disabled."""
    return Command(
        "SCHEDULE_FORCED_SVC_CHECK",
        (_name(host, "host name"), _name(service, "service description"), str(_time(when))),
    )


def schedule_forced_host_check(host: str, when: Timestamp | None = None) -> Command:
    """SCHEDULE_FORCED_HOST_CHECK at ``when`` (default now)."""
    return Command("SCHEDULE_FORCED_HOST_CHECK", (_name(host, "host name"), str(_time(when))))


def service_notifications(host: str, service: str, *, enabled: bool) -> Command:
    """ENABLE_SVC_NOTIFICATIONS or DISABLE_SVC_NOTIFICATIONS."""
    name = "ENABLE_SVC_NOTIFICATIONS" if enabled else "DISABLE_SVC_NOTIFICATIONS"
    return Command(name, (_name(host, "host name"), _name(service, "service description")))


def host_notifications(host: str, *, enabled: bool) -> Command:
    """ENABLE_HOST_NOTIFICATIONS or DISABLE_HOST_NOTIFICATIONS (the host's own, not its services')."""
    name = "ENABLE_HOST_NOTIFICATIONS" if enabled else "DISABLE_HOST_NOTIFICATIONS"
    return Command(name, (_name(host, "host name"),))


def service_active_checks(host: str, service: str, *, enabled: bool) -> Command:
    """ENABLE_SVC_CHECK or DISABLE_SVC_CHECK: the service's active checks (passive results still count)."""
    name = "ENABLE_SVC_CHECK" if enabled else "DISABLE_SVC_CHECK"
    return Command(name, (_name(host, "host name"), _name(service, "service description")))


def host_active_checks(host: str, *, enabled: bool) -> Command:
    """ENABLE_HOST_CHECK or DISABLE_HOST_CHECK: the host's active checks (not its services')."""
    name = "ENABLE_HOST_CHECK" if enabled else "DISABLE_HOST_CHECK"
    return Command(name, (_name(host, "host name"),))


def add_service_comment(
    host: str, service: str, comment: str, *, author: str, persistent: bool = True
) -> Command:
    """ADD_SVC_COMMENT."""
    return Command(
        "ADD_SVC_COMMENT",
        (
            _name(host, "host name"),
            _name(service, "service description"),
            _flag(persistent),
            _name(author, "author"),
            _text(comment, "comment"),
        ),
        free_text_last=True,
    )


def add_host_comment(host: str, comment: str, *, author: str, persistent: bool = True) -> Command:
    """ADD_HOST_COMMENT."""
    return Command(
        "ADD_HOST_COMMENT",
        (_name(host, "host name"), _flag(persistent), _name(author, "author"), _text(comment, "comment")),
        free_text_last=True,
    )


def restart_program() -> Command:
    """Restart the core so that it reads its configuration again.

    Sent as ``RESTART_PROCESS``: Naemon registers it beside its alias
    ``RESTART_PROGRAM``, while Icinga 2 knows only ``RESTART_PROCESS``.
    """
    return Command("RESTART_PROCESS")


def process_service_check_result(host: str, service: str, status: int, output: str) -> Command:
    """PROCESS_SERVICE_CHECK_RESULT: a passive result (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

    ``output`` is one line; ``|`` starts performance data as usual.
    """
    return Command(
        "PROCESS_SERVICE_CHECK_RESULT",
        (
            _name(host, "host name"),
            _name(service, "service description"),
            _int(status, "service status", 0, 3),
            _text(output, "plugin output"),
        ),
        free_text_last=True,
    )


def process_host_check_result(host: str, status: int, output: str) -> Command:
    """PROCESS_HOST_CHECK_RESULT: a passive result (0 UP, 1 DOWN, 2 UNREACHABLE)."""
    return Command(
        "PROCESS_HOST_CHECK_RESULT",
        (_name(host, "host name"), _int(status, "host status", 0, 2), _text(output, "plugin output")),
        free_text_last=True,
    )
