"""Follow one change through web and worker: request id, task id and deployment id on every log line.

* ``RequestIdMiddleware`` takes the caller's ``X-Request-ID`` when it is sane (a proxy or an
  automation run may have set it, so their logs and ours share it), else makes one, and
  echoes it in the response.
* ``ContextFilter`` (on the log handler in ``settings.LOGGING``) puts ``request_id``,
  ``task_id`` and ``deployment_id`` on every record, so ``LOG_FORMAT=json`` lines carry them.
* Celery: a task published while a request id is set carries it in a message header
  (``request_id``); the worker sets it again for the task's run, with the task's own id.
  ``bound(deployment_id=...)`` adds the deployment a deploy run works on.

The ids live in context variables: one request or task per thread (or per asyncio task).
"""

from __future__ import annotations

import logging
import logging.config
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery import signals
from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# What a caller's id may be: enough for UUIDs and trace ids, nothing that could forge a log
# line or a header (no spaces, quotes, newlines).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{8,128}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_task_id: ContextVar[str | None] = ContextVar("task_id", default=None)
_deployment_id: ContextVar[int | None] = ContextVar("deployment_id", default=None)


def request_id() -> str | None:
    """The id of the request (or of the request that led to the running task), if any."""
    return _request_id.get()


def new_request_id(offered: str | None) -> str:
    """The caller's id when it is sane, else a fresh one."""
    if offered and SANE_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give every request an id (the caller's ``X-Request-ID`` if sane) and echo it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Not reset on the way out: Django logs a 4xx/5xx ("Not Found: ...") after the middleware
        # returns; request_finished clears it once the response is closed.
        current = new_request_id(request.headers.get(HEADER))
        _request_id.set(current)
        response = self.get_response(request)
        response[HEADER] = current
        return response


def _request_done(**_: Any) -> None:
    _request_id.set(None)


request_finished.connect(_request_done, dispatch_uid="monitoring_portal.tracing.request_done")


class ContextFilter(logging.Filter):
    """Adds the ids that are set to each record (python-json-logger writes them as fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (
            ("request_id", _request_id),
            ("task_id", _task_id),
            ("deployment_id", _deployment_id),
        ):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


@contextmanager
def bound(*, deployment_id: int) -> Iterator[None]:
    """Within this block, log lines name this deployment."""
    token = _deployment_id.set(deployment_id)
    try:
        yield
    finally:
        _deployment_id.reset(token)


# --- Celery -------------------------------------------------------------------------------


def _before_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    current = _request_id.get()
    if headers is not None and current and "request_id" not in headers:
        headers["request_id"] = current


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    # An eager task runs inside the request: it keeps the request's id (no message, no header).
    offered = getattr(task.request, "request_id", None) if task is not None else None
    if isinstance(offered, str) and SANE_REQUEST_ID.fullmatch(offered):
        _request_id.set(offered)
    _task_id.set(task_id)


def _task_ended(**_: Any) -> None:
    _task_id.set(None)
    if not settings.CELERY_TASK_ALWAYS_EAGER:  # a worker's next task must not inherit this one's
        _request_id.set(None)


def _setup_logging(**_: Any) -> None:
    # Connected, this stops Celery from replacing the root logger's handlers with its own
    # format: the worker logs through settings.LOGGING (JSON with LOG_FORMAT=json) like the web.
    logging.config.dictConfig(settings.LOGGING)


def connect_celery() -> None:
    """Carry the request id through task messages and log through ``settings.LOGGING`` in workers."""
    signals.before_task_publish.connect(_before_publish, weak=False, dispatch_uid="portal-request-id")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="portal-task-started")
    signals.task_postrun.connect(_task_ended, weak=False, dispatch_uid="portal-task-ended")
    signals.setup_logging.connect(_setup_logging, weak=False, dispatch_uid="portal-logging")
