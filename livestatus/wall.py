"""The control-room wall: a full-screen page and the JSON it polls, both read from the overview.

Open to logged-in users and to read-only kiosk links (``livestatus.wall_kiosk``). Neither
view asks Livestatus: they read the overview the periodic task stores
(``livestatus.overview_store``). Mounted at /wall/ by ``livestatus.wall_urls``.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from livestatus import overview, overview_store, wall_kiosk


def _private(response: HttpResponse) -> HttpResponse:
    # The page URL may hold a kiosk token: never send it on as a referrer, never index it.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_GET
@never_cache
@wall_kiosk.wall_access(api=False)
def wall(request: HttpRequest) -> HttpResponse:
    """Full-screen wall view; its script fetches ``/wall/data/`` every few seconds."""
    grant = getattr(request, "kiosk", None)
    context = {
        "data_url": reverse("wall:data"),
        "kiosk_token": request.GET.get(wall_kiosk.PARAM, "") if grant is not None else "",
        "kiosk_name": grant.name if grant is not None else "",
        "refresh_seconds": overview_store.refresh_seconds(),
        "stale_after": overview_store.stale_seconds(),
        "version": overview.SNAPSHOT_VERSION,
        # The clock shows the site's time, not the screen's: a wall PC may be set to UTC.
        "time_zone": settings.TIME_ZONE,
    }
    return _private(render(request, "livestatus/wall.html", context))


@require_GET
@never_cache
@wall_kiosk.wall_access(api=True)
def data(request: HttpRequest) -> HttpResponse:
    """The wall's data: ``{"now", "stale_after", "refresh_seconds", "version", "snapshot"}``."""
    try:
        body = overview_store.data_response_body()
    except redis.RedisError as exc:
        # The wall shows this and keeps polling: a screen must say why it has nothing new.
        return _private(
            JsonResponse({"error": f"the status store (Redis) does not answer: {exc}"}, status=503)
        )
    return _private(HttpResponse(body, content_type="application/json"))
