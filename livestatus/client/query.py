"""Livestatus query builder: queries are built, never pasted.

A request is a header block, one header per line, ended by an empty line.
Anything a caller passes (filter values, the auth user, a wait object) ends up
inside one header line, so it must never contain a line break: such values are
refused with :class:`~livestatus.client.errors.UnsafeValueError` before anything is
sent. Table names, column names, operators and stats functions are checked
against whitelists. Livestatus has no quoting or escaping syntax, so refusing
is the only safe answer; a service really named ``"x\\nCOMMAND ..."`` cannot be
queried by value (its name can still be matched with a regex on a prefix).

Note that the server strips leading and trailing blanks from a header value
(Naemon ``lstrip``/``rstrip``): ``"  a "`` is compared as ``"a"``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from livestatus.client import text
from livestatus.client.errors import UnsafeValueError

#: A value a filter compares against. ``bool`` is sent as ``1``/``0``, ``None`` as empty.
FilterValue: TypeAlias = str | int | float | bool | None

TABLE_RE = re.compile(r"[a-z][a-z_]{0,63}\Z")
COLUMN_RE = re.compile(r"[a-z][a-z0-9_]{0,127}\Z")

#: Filter operators understood by Naemon and Icinga 2 (with their ``!`` negations).
OPERATORS = frozenset(
    {"=", "~", "=~", "~~", "<", ">", "<=", ">=", "!=", "!~", "!=~", "!~~"},
)
#: Stats aggregation functions; merge rules across nodes live in ``livestatus.client.cluster``.
AGGREGATE_FUNCTIONS = frozenset({"sum", "min", "max", "avg", "std", "suminv", "avginv"})

SortDirection: TypeAlias = Literal["asc", "desc"]
WAIT_TRIGGERS = frozenset(
    {"check", "state", "log", "downtime", "comment", "command", "program", "all"},
)


def check_value(value: str, what: str = "value") -> str:
    """Return ``value`` if it can sit inside one header line, else raise UnsafeValueError."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    # The registry's rule (livestatus.client.text): control characters and line separators would
    # end the header line; invisible formatting characters make look-alike names.
    found = text.first_refused(value)
    if found is not None:
        index, char = found
        raise UnsafeValueError(
            f"{what} contains the {text.describe(char)} at position {index}; "
            f"refusing to send it: {value[:60]!r}"
        )
    return value


def check_column(name: str) -> str:
    """Return ``name`` if it is a well-formed column name (lower case, digits, ``_``)."""
    if not isinstance(name, str) or not COLUMN_RE.match(name):
        raise UnsafeValueError(f"not a valid Livestatus column name: {name!r}")
    return name


def check_table(name: str) -> str:
    """Return ``name`` if it is a well-formed table name."""
    if not isinstance(name, str) or not TABLE_RE.match(name):
        raise UnsafeValueError(f"not a valid Livestatus table name: {name!r}")
    return name


def render_value(value: FilterValue, what: str = "filter value") -> str:
    """Turn a Python value into its header text, refusing anything unsafe."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UnsafeValueError(f"{what} must be a finite number, not {value!r}")
        return repr(value)
    return check_value(value, what)


class Expr:
    """A filter expression: combine with ``&`` (And), ``|`` (Or) and ``~`` (Negate)."""

    def header_lines(self, prefix: str) -> Iterator[str]:
        """Yield the header lines; ``prefix`` is ``""``, ``"Stats"`` or ``"WaitCondition"``."""
        raise NotImplementedError

    def columns(self) -> frozenset[str]:
        """The column names this expression reads."""
        raise NotImplementedError

    def __and__(self, other: Expr) -> And:
        return And(self, other)

    def __or__(self, other: Expr) -> Or:
        return Or(self, other)

    def __invert__(self) -> Not:
        return Not(self)


@dataclass(frozen=True)
class Filter(Expr):
    """One comparison: ``Filter("state", "=", 2)`` → ``Filter: state = 2``."""

    column: str
    op: str
    value: FilterValue

    def __post_init__(self) -> None:
        check_column(self.column)
        if self.op not in OPERATORS:
            raise UnsafeValueError(f"not a Livestatus operator: {self.op!r} (one of {sorted(OPERATORS)})")
        render_value(self.value, f"value for {self.column}")

    def header_lines(self, prefix: str) -> Iterator[str]:
        # Filter: vs Stats: vs WaitCondition: differ only by name.
        name = prefix or "Filter"
        value = render_value(self.value, f"value for {self.column}")
        # No strip: Icinga 2 takes everything after the operator's space verbatim.
        yield f"{name}: {self.column} {self.op} {value}"

    def columns(self) -> frozenset[str]:
        return frozenset((self.column,))


class _Combined(Expr):
    header = ""

    def __init__(self, *parts: Expr) -> None:
        if not parts:
            raise ValueError(f"{type(self).__name__}() needs at least one expression")
        flat: list[Expr] = []
        for part in parts:
            if not isinstance(part, Expr):
                raise TypeError(f"not a filter expression: {part!r}")
            # And(And(a, b), c) is And(a, b, c): shorter requests, same meaning.
            flat.extend(part.parts if type(part) is type(self) else (part,))
        self.parts: tuple[Expr, ...] = tuple(flat)

    def header_lines(self, prefix: str) -> Iterator[str]:
        for part in self.parts:
            yield from part.header_lines(prefix)
        if len(self.parts) > 1:
            yield f"{prefix}{self.header}: {len(self.parts)}"

    def columns(self) -> frozenset[str]:
        return frozenset().union(*(part.columns() for part in self.parts))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash((type(self), self.parts))

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.parts!r}"


class And(_Combined):
    """All of the expressions (``And: n``)."""

    header = "And"


class Or(_Combined):
    """Any of the expressions (``Or: n``)."""

    header = "Or"


@dataclass(frozen=True)
class Not(Expr):
    """The negation of an expression (``Negate:``)."""

    expr: Expr

    def header_lines(self, prefix: str) -> Iterator[str]:
        yield from self.expr.header_lines(prefix)
        yield f"{prefix}Negate:"

    def columns(self) -> frozenset[str]:
        return self.expr.columns()


# Each operator's exact negation. Naemon defines ">=" as "not <" and "!x" as
# "not x", and Icinga 2 does the same (for list columns "<" is "does not
# contain" and ">=" "contains"), so swapping the operator never changes meaning.
NEGATED_OPERATORS = {
    "=": "!=",
    "~": "!~",
    "=~": "!=~",
    "~~": "!~~",
    "<": ">=",
    ">": "<=",
}
NEGATED_OPERATORS |= {negated: op for op, negated in NEGATED_OPERATORS.items()}


def push_negations(expr: Expr, negate: bool = False) -> Expr:
    """An equivalent expression without Not: De Morgan down to negated operators.

    Stats use it because Icinga 2 ignores ``StatsNegate:`` (it counts the
    un-negated filter); the rewritten form means the same on both cores.
    """
    if isinstance(expr, Not):
        return push_negations(expr.expr, not negate)
    if isinstance(expr, Filter):
        return Filter(expr.column, NEGATED_OPERATORS[expr.op], expr.value) if negate else expr
    if isinstance(expr, And):
        parts = [push_negations(part, negate) for part in expr.parts]
        return Or(*parts) if negate else And(*parts)
    if isinstance(expr, Or):
        parts = [push_negations(part, negate) for part in expr.parts]
        return And(*parts) if negate else Or(*parts)
    raise TypeError(f"not a filter expression: {expr!r}")


@dataclass(frozen=True)
class Aggregate:
    """A stats function over a column: ``Aggregate("sum", "execution_time")``."""

    function: str
    column: str

    def __post_init__(self) -> None:
        if self.function not in AGGREGATE_FUNCTIONS:
            raise UnsafeValueError(
                f"not a Livestatus stats function: {self.function!r} (one of {sorted(AGGREGATE_FUNCTIONS)})"
            )
        check_column(self.column)


@dataclass(frozen=True)
class Stat:
    """One named stats column: a count of rows matching ``spec`` or an aggregate."""

    name: str
    spec: Expr | Aggregate

    @property
    def function(self) -> str:
        """``"count"`` for a filter count, else the aggregate function name."""
        return self.spec.function if isinstance(self.spec, Aggregate) else "count"

    def header_lines(self) -> Iterator[str]:
        """Yield the ``Stats:`` lines of this column."""
        if isinstance(self.spec, Aggregate):
            yield f"Stats: {self.spec.function} {self.spec.column}"
        else:
            yield from push_negations(self.spec).header_lines("Stats")


@dataclass(frozen=True)
class Wait:
    """Naemon's wait headers: block until ``condition`` holds or ``timeout_ms`` passes."""

    condition: Expr | None = None
    trigger: str = "all"
    obj: str | None = None
    timeout_ms: int = 0

    def __post_init__(self) -> None:
        if self.trigger not in WAIT_TRIGGERS:
            raise UnsafeValueError(f"not a wait trigger: {self.trigger!r}")
        if self.obj is not None:
            check_value(self.obj, "wait object")
        _check_count(self.timeout_ms, "wait timeout")

    def header_lines(self) -> Iterator[str]:
        """Yield the ``Wait*:`` lines."""
        if self.obj is not None:
            yield f"WaitObject: {self.obj}"
        if self.condition is not None:
            yield from self.condition.header_lines("WaitCondition")
        yield f"WaitTrigger: {self.trigger}"
        if self.timeout_ms:
            yield f"WaitTimeout: {self.timeout_ms}"


def _check_count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, not {value!r}")
    return value


@dataclass(frozen=True)
class LivestatusQuery:
    """An immutable ``GET`` request; every method returns a new query.

    >>> LivestatusQuery("services").select("host_name", "state").where(
    ...     Filter("state", "=", 2)).limit(10)
    """

    table: str
    columns: tuple[str, ...] = ()
    filters: tuple[Expr, ...] = ()
    stats_columns: tuple[Stat, ...] = ()
    limit_rows: int | None = None
    offset_rows: int | None = None
    sort_keys: tuple[tuple[str, SortDirection], ...] = ()
    user: str | None = None
    wait_for: Wait | None = None

    def __post_init__(self) -> None:
        check_table(self.table)
        for column in self.columns:
            check_column(column)
        names = [stat.name for stat in self.stats_columns]
        clash = set(names) & set(self.columns) or {n for n in names if names.count(n) > 1}
        if clash:
            raise ValueError(f"stats names must be unique and differ from columns: {clash}")
        if self.user is not None:
            check_value(self.user, "auth user")

    # -- building ---------------------------------------------------------

    def select(self, *columns: str) -> LivestatusQuery:
        """Add columns (the group-by columns of a stats query)."""
        return dataclasses.replace(self, columns=self.columns + tuple(columns))

    def where(self, *exprs: Expr) -> LivestatusQuery:
        """Add filters; all top-level filters must hold."""
        for expr in exprs:
            if not isinstance(expr, Expr):
                raise TypeError(f"not a filter expression: {expr!r}")
        return dataclasses.replace(self, filters=self.filters + exprs)

    def stats(self, **named: Expr | Aggregate) -> LivestatusQuery:
        """Add stats columns by name: ``.stats(ok=Filter("state", "=", 0))``."""
        new = []
        for name, spec in named.items():
            if not isinstance(spec, Expr | Aggregate):
                raise TypeError(f"stats {name!r}: not a filter or Aggregate: {spec!r}")
            new.append(Stat(name, spec))
        return dataclasses.replace(self, stats_columns=self.stats_columns + tuple(new))

    def limit(self, rows: int) -> LivestatusQuery:
        """Return at most ``rows`` rows."""
        return dataclasses.replace(self, limit_rows=_check_count(rows, "limit"))

    def offset(self, rows: int) -> LivestatusQuery:
        """Skip the first ``rows`` rows (Naemon only; emulated by the client for Icinga 2)."""
        return dataclasses.replace(self, offset_rows=_check_count(rows, "offset"))

    def sort(self, column: str, direction: SortDirection = "asc") -> LivestatusQuery:
        """Sort by ``column`` (Naemon only; emulated by the client for Icinga 2)."""
        check_column(column)
        if direction not in ("asc", "desc"):
            raise ValueError(f"sort direction must be 'asc' or 'desc', not {direction!r}")
        return dataclasses.replace(self, sort_keys=(*self.sort_keys, (column, direction)))

    def auth_user(self, contact: str) -> LivestatusQuery:
        """Only rows the contact may see (Naemon only; refused by the client on Icinga 2)."""
        return dataclasses.replace(self, user=check_value(contact, "auth user"))

    def wait(self, wait: Wait) -> LivestatusQuery:
        """Block on the server until a condition holds (Naemon only)."""
        return dataclasses.replace(self, wait_for=wait)

    # -- reading ----------------------------------------------------------

    @property
    def is_stats(self) -> bool:
        """Whether this is a stats query (rows are groups, not objects)."""
        return bool(self.stats_columns)

    def referenced_columns(self) -> frozenset[str]:
        """Every column the request names: Columns, Filter, Stats, Sort and WaitCondition."""
        names = set(self.columns)
        for expr in self.filters:
            names |= expr.columns()
        for stat in self.stats_columns:
            names |= {stat.spec.column} if isinstance(stat.spec, Aggregate) else stat.spec.columns()
        names |= {column for column, _ in self.sort_keys}
        if self.wait_for is not None and self.wait_for.condition is not None:
            names |= self.wait_for.condition.columns()
        return frozenset(names)

    @property
    def result_columns(self) -> tuple[str, ...] | None:
        """Names of the reply's columns, or None when the server sends a header row."""
        if self.is_stats:
            return self.columns + tuple(stat.name for stat in self.stats_columns)
        return self.columns or None

    def header_lines(self) -> list[str]:
        """The request lines without the transport headers the client adds."""
        lines = [f"GET {self.table}"]
        if self.columns:
            lines.append("Columns: " + " ".join(self.columns))
        for expr in self.filters:
            lines.extend(expr.header_lines(""))
        for stat in self.stats_columns:
            lines.extend(stat.header_lines())
        for column, direction in self.sort_keys:
            lines.append(f"Sort: {column} {direction}")
        if self.offset_rows is not None:
            lines.append(f"Offset: {self.offset_rows}")
        if self.limit_rows is not None:
            lines.append(f"Limit: {self.limit_rows}")
        if self.user is not None:
            lines.append(f"AuthUser: {self.user}")
        if self.wait_for is not None:
            lines.extend(self.wait_for.header_lines())
        return lines

    def encode(self, *, keepalive: bool = False) -> bytes:
        """The complete request as sent: JSON output, fixed16 header, optional keep-alive."""
        lines = self.header_lines()
        lines += ["OutputFormat: json", "ResponseHeader: fixed16"]
        if keepalive:
            lines.append("KeepAlive: on")
        return encode_lines(lines)

    def without_paging(self) -> LivestatusQuery:
        """The same query without Sort, Offset and Limit (for client-side paging)."""
        return dataclasses.replace(self, sort_keys=(), offset_rows=None, limit_rows=None)


def encode_lines(lines: Sequence[str]) -> bytes:
    """Join header lines into a request, re-checking that no line hides another."""
    for line in lines:
        # Every value was checked when it was set; this is the last line of
        # defence should a future change forget to.
        check_value(line, "request line")
    return ("\n".join(lines) + "\n\n").encode("utf-8")
