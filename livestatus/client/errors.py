"""Errors raised by the Livestatus client.

Every error says what happened, where, and whether retrying can help
(``retryable``): a node that is reloading or briefly unreachable is worth
another try, a query the server rejected is not.
"""

from __future__ import annotations


class LivestatusError(Exception):
    """Base class of everything the Livestatus client raises."""

    #: Whether the same request may succeed if tried again later.
    retryable: bool = False

    def __init__(self, message: str, *, address: str | None = None) -> None:
        self.address = address
        self.message = message
        super().__init__(f"livestatus {address}: {message}" if address else message)


class UnsafeValueError(LivestatusError, ValueError):
    """A value would change the meaning of a request (a newline, a ``;`` in a name...).

    Raised before anything is sent: caller input can never end a header line,
    add one, or add a command argument.
    """


class UnsupportedQueryError(LivestatusError, ValueError):
    """The query asks for something this server (or a merge across nodes) cannot do."""


class UnknownColumnError(UnsupportedQueryError):
    """The query names a column the server's table does not have.

    Naemon answers such a column with empty values and silently ignores it in
    ``Filter:``, ``Stats:`` and ``Sort:`` (a filter then matches nothing, a count
    is 0): the client refuses it before sending instead.
    """


class LivestatusConnectError(LivestatusError):
    """The socket could not be opened (missing socket, refused, unreachable)."""

    retryable = True


class LivestatusTimeout(LivestatusError):
    """Connecting, sending or reading took longer than the configured timeout."""

    retryable = True


class LivestatusConnectionClosed(LivestatusError):
    """The server closed the connection before the reply was complete (e.g. a reload)."""

    retryable = True


class LivestatusBadResponse(LivestatusError):
    """The reply could not be understood: a malformed header, truncated or invalid JSON."""


class LivestatusQueryError(LivestatusError):
    """The server answered with an error status (400 bad request, 404 no such table, 452 ...)."""

    def __init__(self, status: int, server_message: str, *, address: str | None = None) -> None:
        self.status = status
        self.server_message = server_message
        # Server-side failures (5xx, not used by Naemon today) may be transient;
        # 4xx means the request itself is wrong and will fail again.
        self.retryable = status >= 500
        super().__init__(f"server answered {status}: {server_message}", address=address)


class LivestatusCommandError(LivestatusError):
    """The server rejected an external command (Naemon answers with a reason)."""
