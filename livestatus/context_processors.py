"""Template context of the status pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from livestatus.nodes import unwatched_nodes


def status_context(request: HttpRequest) -> dict[str, Callable[[], list[str]]]:
    """``unwatched_nodes``: a callable, so only templates that show it pay its query."""
    return {"unwatched_nodes": unwatched_nodes}
