"""A database that does not answer is a 503 with ``Retry-After``, not a 500 that reads like a bug."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
MESSAGE = "The database is unavailable; nothing was changed. Retry later."


class DatabaseUnavailableMiddleware:
    """Answer 503 when a view fails because PostgreSQL is unreachable (down, restarting, cut off).

    The request's transaction never committed, so a client may simply send it again: automation
    (Ansible, CI hooks) retries a 503 with ``Retry-After``, and a 500 would page someone instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # OperationalError: no connection, or it broke mid-query; InterfaceError: the connection
        # was already closed under us. Integrity and programming errors stay 500s: retrying won't help.
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": MESSAGE}, status=503)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
