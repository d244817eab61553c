"""Pages show times in the reader's time zone: the one on their notification profile.

The profile's zone is the one their rules' time windows use, so a time on a page and a rule's
window agree. Without a profile (or with a zone this machine lacks) the site's ``TIME_ZONE``
stays. The REST API is left alone: its readers are scripts, and a datetime they send without
an offset must mean the same whoever's session or token sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from preferences.models import NotificationProfile

API_PREFIX = "/api/"


def profile_zone(user_pk: int) -> ZoneInfo | None:
    """The zone on a user's notification profile; None without one (or one this machine lacks)."""
    chosen = NotificationProfile.objects.filter(user=user_pk).values_list("timezone", flat=True).first()
    try:
        return ZoneInfo(chosen) if chosen else None
    except (ValueError, ZoneInfoNotFoundError):
        return None


class ProfileTimezoneMiddleware:
    """Activates the signed-in reader's profile time zone for a page request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone = None
        if user is not None and user.is_authenticated and not request.path_info.startswith(API_PREFIX):
            zone = profile_zone(user.pk)
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            # A worker thread serves the next request too: it must not inherit this reader's zone.
            timezone.deactivate()
