"""Livestatus client: one node, over a unix socket or TCP.

Plain Python (no Django): it runs in web workers, Celery workers on Naemon
nodes and tests alike.

* Addresses are ``unix:/path/to/live.sock`` or ``tcp:host:port``
  (``tcp:[::1]:6557`` for IPv6).
* Every request sends ``OutputFormat: json`` and ``ResponseHeader: fixed16``;
  queries also send ``KeepAlive: on`` and the connection is reused until it
  breaks. A client is shared by threads: it keeps up to ``max_connections``
  kept-alive connections, one request on each at a time, so one slow query
  does not hold up the others. A query that could not be delivered (socket
  missing or refused during a reload, a kept-alive connection the server has
  closed) is retried for ``retry_window`` seconds; a timeout or an error
  status is not.
* External commands each go over their own, short connection.
* Naemon and Icinga 2 answer the same query with different shapes (``0``/``1``
  vs ``true``/``false``, custom variables as a dict vs ``[[name, value]]``,
  unknown columns as ``""`` vs a 452 error): rows come back as dicts with the
  same Python values from both. Icinga 2 ignores ``Sort:`` and ``Offset:``, so
  the client sorts and pages itself there, and refuses ``AuthUser:`` and
  ``Wait*:`` which Icinga 2 would silently ignore.
"""

from __future__ import annotations

import errno
import gc
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

import msgspec

from livestatus.client.commands import Command
from livestatus.client.errors import (
    LivestatusBadResponse,
    LivestatusCommandError,
    LivestatusConnectError,
    LivestatusConnectionClosed,
    LivestatusError,
    LivestatusQueryError,
    LivestatusTimeout,
    UnknownColumnError,
    UnsupportedQueryError,
)
from livestatus.client.query import LivestatusQuery
from livestatus.client.rows import (
    BOOL_COLUMNS,
    COLUMN_PREFIX,
    DIALECTS,
    Dialect,
    Row,
    decode_rows,
    detect_dialect,
    rows_to_dicts,
    sort_and_page,
)

# -- addresses ---------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """Where a Livestatus server listens: a unix socket path or a TCP host and port."""

    family: Literal["unix", "tcp"]
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse ``unix:/path`` or ``tcp:host:port``; anything else is a ValueError."""
        kind, sep, rest = text.partition(":")
        if sep and kind == "unix" and rest.startswith("/") and "\0" not in rest:
            return cls("unix", path=rest)
        if sep and kind == "tcp":
            match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.\-]+):(\d{1,5})", rest)
            if match:
                host = match.group(1) or match.group(3)
                port = int(match.group(2) or match.group(4))
                if 0 < port < 65536:
                    return cls("tcp", host=host, port=port)
        raise ValueError(f"not a Livestatus address: {text!r} (expected unix:/path/to/live or tcp:host:port)")

    def __str__(self) -> str:
        if self.family == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


class _GcPause:
    """Who is decoding a large reply now: the cyclic GC is off while anyone is.

    Decoding 100,000 rows allocates millions of containers and the collector
    keeps rescanning them; none of them can form a cycle, so pausing it more
    than halves the time. The switch is process-wide and a cluster decodes on
    several threads at once: counted, so that the first thread to finish does
    not switch the GC back on under the others (that made the fan-out's parses
    slower than one by one), and only if it was on before the first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decoding = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self, size: int) -> Iterator[None]:
        if size < 1_000_000:
            yield
            return
        with self._lock:
            if self._decoding == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._decoding += 1
        try:
            yield
        finally:
            with self._lock:
                self._decoding -= 1
                if self._decoding == 0 and self._was_enabled:
                    gc.enable()


_gc_paused = _GcPause()


# -- the wire ----------------------------------------------------------------

_RETRY_ERRNOS = frozenset({errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ECONNRESET})
_HEADER_SIZE = 16
_MISSING_COLUMN_RE = re.compile(r"Column '([a-z0-9_]+)' does not exist in table")


class _Undelivered(Exception):
    """The request did not reach a working server; safe to resend a query."""

    def __init__(self, error: LivestatusError) -> None:
        super().__init__(str(error))
        self.error = error


def _pause_or_give_up(undelivered: _Undelivered, window_ends: float, delay: float) -> float:
    """Wait before the next attempt (backing off to 0.5 s) or raise once the window is over."""
    remaining = window_ends - time.monotonic()
    if remaining <= 0:
        raise undelivered.error from None
    time.sleep(min(delay, remaining))
    return min(delay * 2, 0.5)


def _recv_exact(sock: socket.socket, size: int, deadline: float, address: str) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LivestatusTimeout(f"reply incomplete after {got} of {size} bytes", address=address)
        sock.settimeout(remaining)
        try:
            count = sock.recv_into(view[got:], size - got)
        except TimeoutError:
            raise LivestatusTimeout(
                f"timed out reading the reply ({got} of {size} bytes)", address=address
            ) from None
        if count == 0:
            raise LivestatusConnectionClosed(
                f"server closed the connection after {got} of {size} bytes", address=address
            )
        got += count
    return buf


def parse_header(header: bytes | bytearray, address: str = "") -> tuple[int, int]:
    """Parse a fixed16 header ``"200          42\\n"`` into (status, length)."""
    if len(header) != _HEADER_SIZE or header[3:4] != b" " or header[15:16] != b"\n":
        raise LivestatusBadResponse(f"malformed response header {bytes(header)!r}", address=address)
    try:
        return int(header[:3]), int(header[4:15])
    except ValueError:
        raise LivestatusBadResponse(f"malformed response header {bytes(header)!r}", address=address) from None


def server_message(body: bytes | bytearray) -> str:
    """The useful part of an error body (Icinga 2 appends a C++ stack trace)."""
    text = bytes(body).decode("utf-8", "replace")
    return text.split("\n\nStacktrace:", 1)[0].strip()


# msgspec parses a Livestatus reply in 60-75 % of json.loads' time (bench/README.md);
# one Decoder, made once, is thread-safe and skips per-call set-up.
_JSON_DECODER = msgspec.json.Decoder()


def decode_json(body: bytes | bytearray, address: str = "") -> list[list[Any]]:
    """Parse a JSON reply into a list of rows."""
    try:
        data = _JSON_DECODER.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        # What msgspec refuses, json.loads may still read: invalid UTF-8 in plugin output
        # (replaced: keep the row rather than fail the page), lone surrogates, NaN, 1e400.
        # Its error message names the problem for a reply that is not JSON at all.
        try:
            data = json.loads(body)
        except UnicodeDecodeError:
            data = json.loads(bytes(body).decode("utf-8", "replace"))
        except ValueError as exc:
            raise LivestatusBadResponse(f"reply is not valid JSON: {exc}", address=address) from None
    # set(map(type, ...)) runs in C: about half the time of all(isinstance(...)) per row.
    if data.__class__ is not list or not set(map(type, data)) <= {list}:
        raise LivestatusBadResponse("reply is not a list of rows", address=address)
    return cast(list[list[Any]], data)


class LivestatusClient:
    """Connections to one Livestatus server; thread-safe, up to ``max_connections`` requests at once.

    >>> client = LivestatusClient("unix:/var/cache/naemon/live")
    >>> client.query(LivestatusQuery("hosts").select("name", "state"))
    [{'name': 'web1', 'state': 0}]
    """

    def __init__(
        self,
        address: str | Address,
        *,
        connect_timeout: float = 3.0,
        timeout: float = 10.0,
        retry_window: float = 5.0,
        keepalive: bool = True,
        dialect: Dialect | None = None,
        max_connections: int = 1,
        check_columns: bool = True,
    ) -> None:
        self.address = address if isinstance(address, Address) else Address.parse(address)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.retry_window = retry_window
        self.keepalive = keepalive
        if dialect is not None and dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; one of {DIALECTS}")
        self._dialect: Dialect | None = dialect
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        #: How many queries may run at once, each on its own kept-alive connection.
        self.max_connections = max_connections
        # The pool: idle kept-alive sockets (last used on top) and how many query
        # connections exist (idle or in use). ``close()`` starts a new generation:
        # sockets in use when it was called are closed when they come back.
        self._idle: list[socket.socket] = []
        self._in_pool = 0
        self._generation = 0
        self._pool = threading.Condition(threading.Lock())
        self._counters = threading.Lock()
        # Columns Icinga 2 told us it does not have, per table (see _fetch).
        self._missing_columns: dict[str, frozenset[str]] = {}
        #: Naemon only: refuse unknown columns before sending (see _check_columns).
        self.check_columns = check_columns
        # Each table's columns as the server's ``GET columns`` lists them, learnt once.
        self._catalogue: dict[str, frozenset[str]] | None = None
        # Held while the dialect or the catalogue is learnt (re-entrant: one needs the other).
        self._catalogue_lock = threading.RLock()
        #: How many connections this client has opened (keep-alive reuse shows here).
        self.connections_opened = 0
        #: How many requests (queries and commands) it has sent.
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<LivestatusClient {self.address}>"

    def __enter__(self) -> LivestatusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle kept-alive connections now, those in use when their request ends."""
        with self._pool:
            self._generation += 1
            idle, self._idle = self._idle, []
            self._in_pool -= len(idle)
            self._pool.notify_all()
        for sock in idle:
            sock.close()

    @property
    def idle_connections(self) -> int:
        """Kept-alive connections waiting for the next query."""
        with self._pool:
            return len(self._idle)

    # -- public API -------------------------------------------------------

    def query(self, query: LivestatusQuery) -> list[Row]:
        """Run a query; rows are dicts keyed by column (stats rows: group-by columns, then stat names)."""
        if not isinstance(query, LivestatusQuery):
            raise TypeError(f"expected a LivestatusQuery, not {type(query).__name__}")
        if self.check_columns and query.table != "columns" and self.dialect == "naemon":
            self._check_columns(query)
        naemon_only = (
            query.user is not None
            or query.wait_for is not None
            or bool(query.sort_keys)
            or query.offset_rows is not None
        )
        if not naemon_only or self.dialect == "naemon":
            return self._fetch(query)
        if query.user is not None:
            # Icinga 2 ignores AuthUser: running the query would show everything.
            raise UnsupportedQueryError(
                "Icinga 2 ignores AuthUser; refusing a query that would not be restricted to the user",
                address=str(self.address),
            )
        if query.wait_for is not None:
            raise UnsupportedQueryError("Icinga 2 ignores the Wait headers", address=str(self.address))
        extra = [column for column, _ in query.sort_keys if column not in query.columns]
        if extra and (query.is_stats or not query.columns):
            if query.is_stats:
                raise UnsupportedQueryError(
                    f"sort columns {extra} must be group-by columns of this stats query",
                    address=str(self.address),
                )
            extra = []  # no Columns: every column comes back anyway
        rows = self._fetch(query.without_paging().select(*extra))
        rows = sort_and_page(query, rows)
        for row in rows:
            for column in extra:
                del row[column]
        return rows

    def status(self) -> Row:
        """``GET status``: program_start, program_version, nagios_pid, num_services..."""
        rows = self._fetch(LivestatusQuery("status"))
        if len(rows) != 1:
            raise LivestatusBadResponse(f"GET status returned {len(rows)} rows", address=str(self.address))
        return rows[0]

    @property
    def dialect(self) -> Dialect:
        """``"naemon"`` or ``"icinga2"``: as given, else detected once from ``GET status``."""
        if self._dialect is None:
            with self._catalogue_lock:  # threads sharing a client ask the core once, not each
                if self._dialect is None:
                    version = str(self.status().get("program_version", ""))
                    self._dialect = detect_dialect(version)
        return self._dialect

    def command(self, command: Command, *, timestamp: int | None = None) -> None:
        """Send an external command over its own connection.

        Naemon answers a rejected command with a reason (raised as
        LivestatusCommandError); Icinga 2 answers nothing and logs it instead.
        A command is never resent once it may have been delivered.
        """
        if not isinstance(command, Command):
            raise TypeError(f"expected a Command, not {type(command).__name__}")
        # Naemon unescapes backslashes in COMMAND lines (see livestatus.client.commands); without
        # one, both dialects get the same bytes and the dialect need not be asked for.
        escaping = any("\\" in arg for arg in command.args)
        data = command.encode(
            int(time.time()) if timestamp is None else timestamp,
            unescapes=escaping and self.dialect == "naemon",
        )
        address = str(self.address)
        sock = self._connect_with_retry()
        try:
            deadline = time.monotonic() + self.timeout
            try:
                sock.settimeout(self.timeout)
                sock.sendall(data)
                self._count(sent=1)
                sock.shutdown(socket.SHUT_WR)
                reply = self._read_until_eof(sock, deadline)
            except TimeoutError:
                error = LivestatusTimeout(
                    f"command {command.name} sent, but the server did not close the connection "
                    f"within {self.timeout}s; it may or may not have been applied",
                    address=address,
                )
                error.retryable = False
                raise error from None
            except OSError as exc:
                raise LivestatusConnectionClosed(
                    f"sending command {command.name} failed: {exc}", address=address
                ) from None
        finally:
            sock.close()
        if reply.strip():
            raise LivestatusCommandError(
                f"command {command.name} rejected: {server_message(reply)}", address=address
            )

    # -- internals --------------------------------------------------------

    def _check_columns(self, query: LivestatusQuery) -> None:
        """Refuse a column the table does not have (Naemon would answer it silently wrong)."""
        known = self._table_columns(query.table)
        if known is None:
            return  # not a table of this server: it answers 404 itself
        prefix = COLUMN_PREFIX.get(query.table, query.table)[:-1] + "_"

        def naemon_knows(column: str) -> bool:
            # Naemon also accepts a column under the table's prefix (service_state
            # in services; Table::column()), and log and statehist a current_
            # column without "current_" (TableLog::column(), TableStateHistory::column()).
            if column in known or (query.table in ("log", "statehist") and f"current_{column}" in known):
                return True
            return column.startswith(prefix) and naemon_knows(column[len(prefix) :])

        unknown = sorted(column for column in query.referenced_columns() if not naemon_knows(column))
        if unknown:
            raise UnknownColumnError(
                f"table {query.table!r} has no column {', '.join(map(repr, unknown))}; "
                "Naemon would answer it with empty values instead of an error",
                address=str(self.address),
            )

    def _table_columns(self, table: str) -> frozenset[str] | None:
        with self._catalogue_lock:
            if self._catalogue is None:
                rows = self._fetch(LivestatusQuery("columns").select("table", "name"))
                catalogue: dict[str, set[str]] = {}
                for row in rows:
                    catalogue.setdefault(str(row["table"]), set()).add(str(row["name"]))
                self._catalogue = {name: frozenset(columns) for name, columns in catalogue.items()}
            return self._catalogue.get(table)

    def _fetch(self, query: LivestatusQuery) -> list[Row]:
        missing = self._missing_columns.get(query.table, frozenset())
        if missing and not query.is_stats and missing & set(query.columns):
            return self._fetch_without(query, missing)
        try:
            body = self._request(query.encode(keepalive=self.keepalive))
        except LivestatusQueryError as exc:
            # Icinga 2 refuses columns it does not have (452); Naemon answers
            # them with "". Give the caller Naemon's answer from both.
            match = _MISSING_COLUMN_RE.search(exc.server_message)
            if exc.status == 452 and match and not query.is_stats and match.group(1) in query.columns:
                self._missing_columns[query.table] = missing | {match.group(1)}
                return self._fetch_without(query, missing | {match.group(1)})
            raise
        with _gc_paused(len(body)):
            if query.result_columns:
                typed = decode_rows(query.table, tuple(query.result_columns), body)
                if typed is not None:
                    return typed
            rows = decode_json(body, str(self.address))
            columns = query.result_columns
            if columns is None:
                if not rows:
                    return []
                columns = tuple(str(name) for name in rows[0])
                rows = rows[1:]
            return rows_to_dicts(query.table, list(columns), rows)

    def _fetch_without(self, query: LivestatusQuery, missing: frozenset[str]) -> list[Row]:
        kept = tuple(column for column in query.columns if column not in missing)
        if not kept:
            raise UnsupportedQueryError(
                f"none of the columns {list(query.columns)} exist in table {query.table!r}",
                address=str(self.address),
            )
        narrower = LivestatusQuery(
            query.table,
            columns=kept,
            filters=query.filters,
            limit_rows=query.limit_rows,
            offset_rows=query.offset_rows,
            sort_keys=query.sort_keys,
            user=query.user,
            wait_for=query.wait_for,
        )
        rows = self._fetch(narrower)
        flags = BOOL_COLUMNS.get(query.table, frozenset())
        return [
            {
                column: row[column] if column in row and column in kept else (None if column in flags else "")
                for column in query.columns
            }
            for row in rows
        ]

    def _request(self, data: bytes) -> bytearray:
        """Send a query and read its reply, retrying delivery within the retry window."""
        address = str(self.address)
        sock, generation = self._checkout()
        kept: socket.socket | None = None
        window_ends = time.monotonic() + self.retry_window
        delay = 0.05
        try:
            while True:
                try:
                    body, kept = self._request_once(sock, data)
                    return body
                except _Undelivered as undelivered:
                    sock = None  # closed by _request_once: the next attempt connects afresh
                    delay = _pause_or_give_up(undelivered, window_ends, delay)
                except OSError as exc:  # anything the mapping in _request_once did not expect
                    raise LivestatusConnectionClosed(f"connection failed: {exc}", address=address) from None
        finally:
            self._checkin(kept, generation)

    def _checkout(self) -> tuple[socket.socket | None, int]:
        """An idle kept-alive socket, or None and a free slot to connect in; waits while all are busy."""
        deadline = time.monotonic() + self.timeout
        with self._pool:
            while True:
                if self._idle:
                    return self._idle.pop(), self._generation
                if self._in_pool < self.max_connections:
                    self._in_pool += 1
                    return None, self._generation
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LivestatusTimeout(
                        f"all {self.max_connections} connections stayed busy for {self.timeout}s",
                        address=str(self.address),
                    )
                self._pool.wait(remaining)

    def _checkin(self, sock: socket.socket | None, generation: int) -> None:
        """Give a slot back: its socket stays open for the next query unless it broke or close() ran."""
        with self._pool:
            if sock is not None and generation == self._generation:
                self._idle.append(sock)
                sock = None
            else:
                self._in_pool -= 1
            self._pool.notify()
        if sock is not None:
            sock.close()

    def _request_once(
        self, sock: socket.socket | None, data: bytes
    ) -> tuple[bytearray, socket.socket | None]:
        """One attempt; returns the body and the socket to keep (None: closed). Closes it on any failure."""
        address = str(self.address)
        if sock is None:
            sock = self._connect()
        try:
            deadline = time.monotonic() + self.timeout
            try:
                sock.settimeout(self.timeout)
                sock.sendall(data)
                self._count(sent=1)
                header = _recv_exact(sock, _HEADER_SIZE, deadline, address)
            except (LivestatusConnectionClosed, BrokenPipeError, ConnectionResetError) as exc:
                # Nothing of the reply arrived: the server closed a kept-alive
                # connection (idle timeout) or is going away for a reload.
                raise _Undelivered(
                    exc
                    if isinstance(exc, LivestatusError)
                    else LivestatusConnectionClosed(f"connection lost: {exc}", address=address)
                ) from None
            except TimeoutError:
                raise LivestatusTimeout(f"no reply within {self.timeout}s", address=address) from None
            status, length = parse_header(header, address)
            body = _recv_exact(sock, length, deadline, address)
        except BaseException:
            sock.close()
            raise
        if status != 200:
            # Naemon may close after an error; start afresh next time.
            sock.close()
            raise LivestatusQueryError(status, server_message(body), address=address)
        if not self.keepalive:
            sock.close()
            return body, None
        return body, sock

    def _count(self, *, opened: int = 0, sent: int = 0) -> None:
        # Threads share a client: += on an attribute is not atomic.
        with self._counters:
            self.connections_opened += opened
            self.requests_sent += sent

    def _connect(self) -> socket.socket:
        """Open one connection; refused/missing sockets raise _Undelivered."""
        address = str(self.address)
        try:
            if self.address.family == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.connect_timeout)
                    sock.connect(self.address.path)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(
                    (self.address.host, self.address.port), timeout=self.connect_timeout
                )
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError:
            raise LivestatusTimeout(
                f"cannot connect within {self.connect_timeout}s", address=address
            ) from None
        except OSError as exc:
            error = LivestatusConnectError(f"cannot connect: {exc.strerror or exc}", address=address)
            if exc.errno in _RETRY_ERRNOS:
                # The socket vanishes for a moment while the core reloads.
                raise _Undelivered(error) from None
            error.retryable = not isinstance(exc, PermissionError)
            raise error from None
        self._count(opened=1)
        return sock

    def _connect_with_retry(self) -> socket.socket:
        window_ends = time.monotonic() + self.retry_window
        delay = 0.05
        while True:
            try:
                return self._connect()
            except _Undelivered as undelivered:
                delay = _pause_or_give_up(undelivered, window_ends, delay)

    def _read_until_eof(self, sock: socket.socket, deadline: float) -> bytes:
        chunks: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
