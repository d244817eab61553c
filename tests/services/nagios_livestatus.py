"""A Livestatus front for one running Nagios 4 core: what naemon-livestatus would answer.

Debian's Nagios 4 has no Livestatus module, but the portal reads status and sends actions
through Livestatus, as every Naemon node offers. This front listens on a unix socket (a
thread of the test process, through ``replay.ReplayServer``'s plumbing) and answers from the
core's own files, read fresh on every request: ``status.dat`` (states, checks,
acknowledgements, comments, downtimes; Nagios rewrites it every second here) and
``objects.cache`` (groups, members, contacts, addresses; rewritten at each start). Every
``COMMAND [t] ...`` line is decoded with naemon-livestatus's unescape rule and written to the
core's external command file, which is what the module does inside Naemon.

What it answers like naemon-livestatus (src/Query.cc, Table*.cc): ``GET`` with ``Columns``,
``Filter``/``And``/``Or``/``Negate``, ``Stats``/``StatsAnd``/``StatsOr``/``StatsNegate`` and
the aggregates, ``Sort``, ``Offset``, ``Limit``, ``AuthUser``, ``OutputFormat: json``,
``ColumnHeaders``, ``ResponseHeader: fixed16``, ``KeepAlive``; flags as 0/1, groups and
contacts as lists, custom variables as a dict, ``GET columns`` from Naemon's catalogue. A
column Naemon does not have is answered with "" and ignored in a filter (as Naemon does); a
column Naemon has but this front does not compute is a 400 naming it, so a test never reads
a made-up value. ``Wait*`` headers are accepted and not waited on.

When the core is not running the front does not answer either (``stop()`` removes the
socket): a killed node looks killed to the portal.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry import runner
from tests.services.naemon_columns import NAEMON_COLUMNS
from tests.services.nagios import NagiosCore
from tests.services.nagios_status import Objects, Row, Snapshot, build_snapshot

__all__ = ["NagiosLivestatus", "Objects", "answer", "build_snapshot"]
from tests.services.replay import ReplayServer, fixed16, header_value, naemon_unescape

# Naemon's prefixes (Table::prefixname): "service_state" is "state" in services, "host_name"
# is "name" in hostsbygroup.
_PREFIXNAME = {
    "hosts": "host_",
    "hostsbygroup": "host_",
    "services": "service_",
    "servicesbyhostgroup": "service_",
    "hostgroups": "hostgroup_",
    "servicegroups": "servicegroup_",
    "comments": "comment_",
    "downtimes": "downtime_",
    "status": "status_",
}
_AGGREGATES = frozenset({"sum", "min", "max", "avg", "std", "suminv", "avginv"})


# -- queries -----------------------------------------------------------------------------------


class QueryError(Exception):
    """Answered with a status code and this message, as Naemon answers a bad request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Predicate = Callable[[Row], bool]


def _column_type(table: str, column: str) -> str | None:
    for name, kind in NAEMON_COLUMNS.get(table, ()):
        if name == column:
            return kind
    return None


def resolve(table: str, column: str) -> tuple[str, str] | None:
    """(the column's real name, its Naemon type), or None when Naemon does not have it."""
    kind = _column_type(table, column)
    if kind is not None:
        return column, kind
    prefix = _PREFIXNAME.get(table, "")
    if prefix and column.startswith(prefix):
        return resolve(table, column[len(prefix) :])
    return None


def _value(row: Row, table: str, column: str) -> Any:
    found = resolve(table, column)
    if found is None:
        return ""
    name, _ = found
    if name not in row:
        if table in ("comments", "downtimes") and not row.get("is_service") and name.startswith("service_"):
            return ""  # a host's comment has no service: Naemon answers empty values
        raise QueryError(400, f"the Nagios 4 test front does not compute column {name!r} of {table!r}")
    return row[name]


def _compare(kind: str, actual: Any, op: str, raw: str) -> bool:
    negate = op.startswith("!")
    op = op[1:] if negate else op
    result = _compare_positive(kind, actual, op, raw)
    return not result if negate else result


def _compare_positive(kind: str, actual: Any, op: str, raw: str) -> bool:
    if kind == "list":
        items = [str(item) if not isinstance(item, list) else "|".join(map(str, item)) for item in actual]
        if op == "=":
            return not items if raw == "" else False
        if op == ">=":
            return raw in items
        if op == "<":
            return raw not in items
        if op == "<=":
            return any(item.lower() == raw.lower() for item in items)
        if op == ">":
            return not any(item.lower() == raw.lower() for item in items)
        if op in ("~", "~~"):
            flags = re.I if op == "~~" else 0
            return any(re.search(raw, item, flags) for item in items)
        return False
    if kind in ("int", "float"):
        try:
            wanted: float = float(raw) if raw else 0.0
        except ValueError:
            wanted = 0.0
        number = float(actual or 0)
        return {
            "=": number == wanted,
            "<": number < wanted,
            ">": number > wanted,
            "<=": number <= wanted,
            ">=": number >= wanted,
        }.get(op, False)
    text = str(actual)
    if op == "=":
        return text == raw
    if op == "=~":
        return text.lower() == raw.lower()
    if op == "~":
        return re.search(raw, text) is not None
    if op == "~~":
        return re.search(raw, text, re.I) is not None
    if op == "<":
        return text < raw
    if op == ">":
        return text > raw
    if op == "<=":
        return text <= raw
    if op == ">=":
        return text >= raw
    return False


def _filter(table: str, text: str) -> Predicate:
    column, _, rest = text.strip().partition(" ")
    op, _, raw = rest.partition(" ")
    found = resolve(table, column)
    if found is None:
        return lambda row: True  # Naemon ignores a filter on a column it does not have
    _, kind = found
    return lambda row: _compare(kind, _value(row, table, column), op, raw.strip())


def _combine(
    stack: list[Predicate], count: int, what: str, combine: Callable[[Iterable[bool]], bool]
) -> None:
    if count < 1 or count > len(stack):
        raise QueryError(400, f"{what}: {count}: too few filters on the stack")
    parts = stack[-count:]
    del stack[-count:]
    stack.append(_joined(parts, combine))


def _joined(parts: Sequence[Predicate], combine: Callable[[Iterable[bool]], bool]) -> Predicate:
    return lambda row: combine(part(row) for part in parts)


def _negated(predicate: Predicate) -> Predicate:
    return lambda row: not predicate(row)


@dataclass
class Stat:
    """One stats column: a count of matching rows, or an aggregate over a column."""

    predicate: Predicate | None = None
    function: str = ""
    column: str = ""

    def compute(self, rows: Sequence[Row], table: str) -> Any:
        if self.predicate is not None:
            return sum(1 for row in rows if self.predicate(row))
        values = [float(_value(row, table, self.column) or 0) for row in rows]
        if self.function == "sum":
            return sum(values)
        if self.function == "min":
            return min(values, default=0)
        if self.function == "max":
            return max(values, default=0)
        if self.function == "avg":
            return sum(values) / len(values) if values else 0
        if self.function == "suminv":
            return sum(1 / v for v in values if v)
        if self.function == "avginv":
            return sum(1 / v for v in values if v) / len(values) if values else 0
        mean = sum(values) / len(values) if values else 0
        return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) if values else 0


def answer(request: bytes, snapshot: Snapshot) -> bytes:
    """The reply bytes for one ``GET`` request."""
    lines = request.decode("utf-8").split("\n")
    table = lines[0][len("GET ") :].strip()
    wants_fixed16 = header_value(request, "ResponseHeader") == "fixed16"
    try:
        body = _answer_rows(table, lines[1:], snapshot, request)
    except QueryError as error:
        message = str(error).encode() + b"\n"
        return fixed16(error.status, message) if wants_fixed16 else message
    return fixed16(200, body) if wants_fixed16 else body


def _answer_rows(table: str, lines: list[str], snapshot: Snapshot, request: bytes) -> bytes:
    rows = snapshot.table(table)
    if rows is None:
        raise QueryError(404, f"Invalid GET request, no such table '{table}'")
    columns: list[str] = []
    filters: list[Predicate] = []
    stats: list[Stat] = []
    sort: list[tuple[str, bool]] = []
    limit: int | None = None
    offset = 0
    user: str | None = None
    for line in lines:
        if not line.strip():
            continue
        name, _, value = line.partition(":")
        value = value.strip()
        if name == "Columns":
            columns = value.split()
        elif name == "Filter":
            filters.append(_filter(table, value))
        elif name in ("And", "Or"):
            _combine(filters, int(value), name, all if name == "And" else any)
        elif name == "Negate":
            if not filters:
                raise QueryError(400, "Negate: no filter on the stack")
            filters.append(_negated(filters.pop()))
        elif name == "Stats":
            first, _, rest = value.partition(" ")
            if first in _AGGREGATES:
                stats.append(Stat(function=first, column=rest.strip()))
            else:
                stats.append(Stat(predicate=_filter(table, value)))
        elif name in ("StatsAnd", "StatsOr", "StatsNegate"):
            count = 1 if name == "StatsNegate" else int(value)
            parts = [stat.predicate for stat in stats[len(stats) - count :]]
            if count < 1 or len(parts) < count or any(part is None for part in parts):
                raise QueryError(400, f"{name}: too few Stats filters on the stack")
            del stats[-count:]
            predicates = [part for part in parts if part is not None]
            if name == "StatsNegate":
                stats.append(Stat(predicate=_negated(predicates[0])))
            else:
                stats.append(Stat(predicate=_joined(predicates, all if name == "StatsAnd" else any)))
        elif name == "Sort":
            column, _, direction = value.partition(" ")
            sort.append((column, direction.strip() == "desc"))
        elif name == "Limit":
            limit = int(value)
        elif name == "Offset":
            offset = int(value)
        elif name == "AuthUser":
            user = value
        # OutputFormat, ResponseHeader, KeepAlive, ColumnHeaders, Wait*, Localtime: read elsewhere or not needed
    selected = [row for row in rows if all(f(row) for f in filters)]
    if user is not None:
        selected = [row for row in selected if _visible(row, table, user)]
    for column, descending in reversed(sort):
        selected.sort(key=_sort_by(table, column), reverse=descending)
    headers = header_value(request, "ColumnHeaders") == "on"
    if stats:
        result = _stats_rows(table, columns, stats, selected)
        if headers:
            result.insert(0, [*columns, *(f"stats_{i + 1}" for i in range(len(stats)))])
        return _json(result)
    selected = selected[offset:]
    if limit is not None:
        selected = selected[:limit]
    names = columns or sorted(
        name for name, _ in NAEMON_COLUMNS.get(table, ()) if name in (rows[0] if rows else {})
    )
    result = [[_value(row, table, column) for column in names] for row in selected]
    if headers or not columns:
        result.insert(0, names)
    return _json(result)


def _visible(row: Row, table: str, user: str) -> bool:
    if table in ("hosts", "hostsbygroup"):
        return user in row["contacts"]
    if table in ("services", "servicesbyhostgroup"):
        return user in row["contacts"] or user in row["host_contacts"]
    return True


def _sort_by(table: str, column: str) -> Callable[[Row], tuple[int, Any]]:
    def key(row: Row) -> tuple[int, Any]:
        value = _value(row, table, column)
        return (0, value) if isinstance(value, int | float) else (1, str(value))

    return key


def _stats_rows(table: str, columns: list[str], stats: list[Stat], rows: list[Row]) -> list[list[Any]]:
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        key = tuple(json.dumps(_value(row, table, c)) for c in columns)
        groups.setdefault(key, []).append(row)
    if not columns:
        return [[stat.compute(rows, table) for stat in stats]]
    return [
        [*(json.loads(part) for part in key), *(stat.compute(members, table) for stat in stats)]
        for key, members in sorted(groups.items())
    ]


def _json(rows: list[list[Any]]) -> bytes:
    return json.dumps(rows, separators=(",", ":")).encode("utf-8") + b"\n"


# -- the server ----------------------------------------------------------------------------


class NagiosLivestatus:
    """The Livestatus front of one NagiosCore: start() it once the core runs, stop() when it dies."""

    def __init__(self, core: NagiosCore, path: Path | None = None) -> None:
        self.core = core
        self.path = path or core.dir / "live"
        self.server: ReplayServer | None = None
        self._objects: tuple[tuple[float, int], Objects] | None = None
        self._lock = threading.Lock()
        #: Every command line written to the core's command file, as the core read it.
        self.commands: list[str] = []

    @property
    def address(self) -> str:
        """The node's ``livestatus`` field."""
        return f"unix:{self.path}"

    def start(self) -> None:
        """Listen (again) on the same socket path."""
        if self.server is not None:
            return
        self.path.unlink(missing_ok=True)
        self.server = ReplayServer(self._handle, path=self.path)
        self.server.start()

    def stop(self) -> None:
        """Stop answering: connecting fails as it does when a core with Livestatus is dead."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def objects(self) -> Objects:
        """objects.cache, re-read when the core rewrote it (each start and restart)."""
        path = self.core.dir / "objects.cache"
        with self._lock:
            try:
                stat = path.stat()
                key = (stat.st_mtime, stat.st_size)
                if self._objects is None or self._objects[0] != key:
                    self._objects = (key, Objects.parse(path.read_text(errors="replace")))
            except (FileNotFoundError, AssertionError, KeyError):
                # Not written yet, or caught half-written during a restart: the last one read.
                if self._objects is None:
                    return Objects()
            return self._objects[1]

    def snapshot(self) -> Snapshot:
        """The tables as the core's files say now."""
        return build_snapshot(self._status_text(), self.objects())

    def _handle(self, request: bytes) -> bytes:
        if request.startswith(b"COMMAND"):
            return self._command(request)
        if not request.startswith(b"GET "):
            return fixed16(400, b"Invalid request method\n")
        return answer(request, self.snapshot())

    def _status_text(self) -> str:
        try:
            return self.core.status_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _command(self, request: bytes) -> bytes:
        line = request.decode("utf-8").rstrip("\n")
        match = re.fullmatch(r"COMMAND (\[\d+\] .*)", line, flags=re.S)
        if match is None:
            return b"400: invalid COMMAND line\n"
        # naemon-livestatus unescapes the line and hands it to the core as one command.
        decoded = naemon_unescape(match.group(1))
        try:
            runner.send_external_command(str(self.core.command_file), decoded)
        except runner.RunnerError as exc:
            return f"503: {exc}\n".encode()
        self.commands.append(decoded)
        return b""
