"""A tiny Livestatus-speaking loopback server for tests and the benchmark.

It reads requests (header lines up to an empty line), asks a handler for the
reply bytes and writes them, keeping the connection open when the request says
``KeepAlive: on`` - enough to replay captured replies, to imitate Naemon's
answers (0/1 booleans, custom variables as a dict, command errors) and to
misbehave on purpose (hang, close early, send garbage).

Two things it does the way real Naemon does, whatever the handler, because the
client depends on them (naemon-livestatus's source is the reference):

* ``GET columns`` is answered from Naemon's column catalogue
  (``naemon_columns.py``), so the client's column check sees the real tables.
* Every ``COMMAND`` line is decoded with naemon-livestatus's
  ``unescape_newlines()`` rule and kept in ``commands`` as the core would
  read it: one entry per resulting line, so a forged second line shows.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.services.naemon_columns import NAEMON_COLUMNS

#: Returned by a handler: keep the connection open and never answer.
HANG = b"\0hang"
#: Returned by a handler: close the connection without answering.
CLOSE = b"\0close"

Handler = Callable[[bytes], bytes]


def naemon_unescape(raw: str) -> str:
    """naemon-livestatus's ``unescape_newlines()`` (src/strutil.cc), character for character.

    ``\\n`` becomes a line break; a backslash before any other character is
    dropped and that character kept (``\\\\`` gives one backslash); a lone
    backslash at the very end is dropped.
    """
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\":
            if index + 1 < len(raw):
                following = raw[index + 1]
                out.append("\n" if following == "n" else following)
                index += 2
                continue
            index += 1  # the C loop ends on the NUL after a trailing backslash
            continue
        out.append(char)
        index += 1
    return "".join(out)


def columns_reply(request: bytes) -> bytes:
    """Naemon's answer to ``GET columns``: its catalogue, in the columns the request names."""
    fields = (header_value(request, "Columns") or "table name type description").split()
    rows: list[list[str]] = []
    for table, columns in NAEMON_COLUMNS.items():
        for name, kind in columns:
            values = {"table": table, "name": name, "type": kind, "description": ""}
            rows.append([values.get(field, "") for field in fields])
    if header_value(request, "Columns") is None:
        rows.insert(0, fields)
    return fixed16(200, json_body(rows))


def fixed16(status: int, body: bytes) -> bytes:
    """A reply with Livestatus' 16-byte header."""
    return b"%03d %11d\n" % (status, len(body)) + body


def json_body(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows as Naemon's JSON output writes them."""
    return json.dumps(rows, separators=(",", ":")).encode("utf-8") + b"\n"


def header_value(request: bytes, name: str) -> str | None:
    """The value of one request header, or None."""
    prefix = name.encode() + b":"
    for line in request.split(b"\n"):
        if line.startswith(prefix):
            return line[len(prefix) :].strip().decode()
    return None


class TableReplay:
    """Answers any GET with the same table, in the format the request asks for.

    Honours ``OutputFormat`` (json, python), ``ColumnHeaders`` and
    ``ResponseHeader`` so that other clients (pynag, python-mk-livestatus) can
    be measured on the same bytes. Bodies are rendered once and cached.
    """

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.columns = list(columns)
        self.rows = rows
        self._cache: dict[tuple[str, bool], bytes] = {}

    def body(self, output_format: str, headers: bool) -> bytes:
        """The rendered table (cached)."""
        key = (output_format, headers)
        if key not in self._cache:
            rows: list[Any] = ([self.columns] if headers else []) + list(self.rows)
            if output_format == "python":
                self._cache[key] = repr(rows).encode("utf-8") + b"\n"
            else:
                self._cache[key] = json_body(rows)
        return self._cache[key]

    def __call__(self, request: bytes) -> bytes:
        output_format = header_value(request, "OutputFormat") or "csv"
        wants_headers = header_value(request, "ColumnHeaders") == "on"
        no_columns = header_value(request, "Columns") is None
        body = self.body(output_format, wants_headers or no_columns)
        if header_value(request, "ResponseHeader") == "fixed16":
            return fixed16(200, body)
        return body


class ReplayServer:
    """A threaded loopback server (unix socket or TCP) answering through ``handler``."""

    def __init__(
        self,
        handler: Handler,
        *,
        tcp: bool = False,
        delay: float = 0.0,
        directory: str | os.PathLike[str] | None = None,
        path: str | os.PathLike[str] | None = None,
        honour_keepalive: bool = True,
    ) -> None:
        self.handler = handler
        self.delay = delay
        self.honour_keepalive = honour_keepalive
        self.requests: list[bytes] = []
        #: Each COMMAND as Naemon's core would read it after livestatus unescaped it.
        self.commands: list[str] = []
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tmp: str | None = None
        if tcp:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", 0))
            self.address = f"tcp:127.0.0.1:{self._listener.getsockname()[1]}"
        else:
            if path is not None:
                self.path = str(path)
            else:
                if directory is None:
                    self._tmp = tempfile.mkdtemp(prefix="ls-replay-")
                    directory = self._tmp
                self.path = str(Path(directory) / f"replay-{id(self)}.sock")
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(self.path)
            self.address = f"unix:{self.path}"
        self._listener.listen(64)
        self._listener.settimeout(0.05)

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Accept connections in a background thread."""
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop accepting, end open connections, remove the socket file."""
        self._stop.set()
        for thread in list(self._threads):
            thread.join(5)
        self._listener.close()
        if self._tmp:
            for name in os.listdir(self._tmp):
                os.unlink(os.path.join(self._tmp, name))
            os.rmdir(self._tmp)
        elif hasattr(self, "path") and os.path.exists(self.path):
            os.unlink(self.path)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        buffer = b""
        try:
            while not self._stop.is_set():
                end = buffer.find(b"\n\n")
                if end < 0:
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not chunk:
                        # Half-closed by a client that sent its request without
                        # the empty line (allowed): answer what is there.
                        if buffer.strip():
                            self._answer(conn, buffer + b"\n")
                        return
                    buffer += chunk
                    continue
                request, buffer = buffer[: end + 1], buffer[end + 2 :]
                self.requests.append(request)
                keep = self._answer(conn, request)
                if not keep:
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, request: bytes) -> bool:
        if self.delay and self._stop.wait(self.delay):
            return False
        if request.startswith(b"COMMAND"):
            line = request.decode("utf-8").rstrip("\n")
            self.commands.extend(naemon_unescape(line).split("\n"))
        reply = columns_reply(request) if request.startswith(b"GET columns\n") else self.handler(request)
        if reply == HANG:
            self._stop.wait()
            return False
        if reply == CLOSE:
            return False
        conn.settimeout(30)  # a slow reader must not cut the reply short
        try:
            conn.sendall(reply)
        finally:
            conn.settimeout(0.05)
        if request.startswith(b"COMMAND"):
            return True  # Naemon keeps a command connection open for the next one
        return self.honour_keepalive and b"\nKeepAlive: on\n" in request
