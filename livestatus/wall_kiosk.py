"""The wall's access mechanism: read-only kiosk links for wall screens, ``/wall/?kiosk=<signed token>``.

A token is ``django.core.signing`` over ``{"kiosk": name, "until": epoch}`` with its own
salt, so it is worthless anywhere else in the portal (and a session or API token is
worthless as a kiosk token). It is checked by the wall's two views and nowhere else: it
logs nobody in, creates no session and sets no cookie, so a kiosk screen is an anonymous
visitor to every other URL. The wall page hands the token to its script, which sends it
with each ``/wall/data/`` request.

Issue with ``manage.py create_kiosk_link --name control-room-1 [--days 365]``.
Revoke one screen by adding its name to ``WALL_KIOSK_REVOKED`` (comma-separated);
revoke all by changing ``WALL_KIOSK_SALT`` (or SECRET_KEY). The token is part of the
URL, so it is in the screen's history and the access log: treat it like a password for
a read-only view, and give each screen its own name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

#: The query parameter carrying the token.
PARAM = "kiosk"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
DAY = 86400


def _salt() -> str:
    # The module's old name: changing it would void every kiosk link issued so far.
    return "livestatus.kiosk:" + str(getattr(settings, "WALL_KIOSK_SALT", "") or "v1")


def _revoked() -> set[str]:
    value: Any = getattr(settings, "WALL_KIOSK_REVOKED", ())
    if isinstance(value, str):
        value = value.split(",")
    return {str(name).strip() for name in value if str(name).strip()}


class KioskError(Exception):
    """A kiosk token that must not be honoured; the message says why."""


@dataclass(frozen=True)
class KioskGrant:
    """A valid kiosk token: which screen, valid until when (epoch seconds)."""

    name: str
    until: float


def make_token(name: str, *, days: int = 365, now: float | None = None) -> str:
    """A signed token for the screen ``name``, valid for ``days``."""
    if not NAME_RE.match(name):
        raise ValueError(f"kiosk name must be 1-64 letters, digits, '.', '_' or '-': {name!r}")
    if days < 1:
        raise ValueError("days must be at least 1")
    until = int((now if now is not None else time.time()) + days * DAY)
    return signing.dumps({"kiosk": name, "until": until}, salt=_salt(), compress=True)


def read_token(token: str, *, now: float | None = None) -> KioskGrant:
    """The grant of a valid token; KioskError for a forged, expired or revoked one."""
    try:
        data = signing.loads(token, salt=_salt())
    except signing.BadSignature:
        raise KioskError("this kiosk link is not valid (forged, or the kiosk salt was rotated)") from None
    if not isinstance(data, dict) or not isinstance(data.get("kiosk"), str):
        raise KioskError("this kiosk link is not valid")
    name, until = data["kiosk"], float(data.get("until") or 0)
    if until < (now if now is not None else time.time()):
        raise KioskError(f"the kiosk link {name!r} has expired")
    if name in _revoked():
        raise KioskError(f"the kiosk link {name!r} has been revoked")
    return KioskGrant(name, until)


def kiosk_grant(request: HttpRequest) -> KioskGrant | None:
    """The kiosk grant of a request (None when it carries no token); KioskError if it is bad."""
    token = request.GET.get(PARAM)
    if not token:
        return None
    return read_token(token)


def wall_access(*, api: bool) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Let in a logged-in user or a valid kiosk token (read-only views only).

    Without either, a page redirects to the login and the data endpoint answers 403.
    The grant is put on ``request.kiosk`` for the view (None for a logged-in user).
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            grant: KioskGrant | None = None
            try:
                grant = kiosk_grant(request)
            except KioskError as exc:
                if not request.user.is_authenticated:
                    return _denied(str(exc), api=api)
            if grant is None and not request.user.is_authenticated:
                if api:
                    return _denied("log in or use a kiosk link", api=True)
                return redirect_to_login(request.get_full_path())
            request.kiosk = grant  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _denied(message: str, *, api: bool) -> HttpResponse:
    if api:
        return JsonResponse({"error": message}, status=403)
    return HttpResponse(
        f"<!doctype html><title>Wall: access refused</title><h1>Access refused</h1><p>{escape(message)}</p>",
        status=403,
    )
