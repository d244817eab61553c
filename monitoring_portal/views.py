"""Project-wide pages: profile with API tokens, health and readiness probes (the home page: livestatus.home)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from monitoring_portal import redis_client
from monitoring_portal.forms import APITokenForm
from monitoring_portal.models import APIToken, Team

logger = logging.getLogger(__name__)


# The session key under which a new token's secret waits for its one display.
NEW_TOKEN_SESSION_KEY = "profile_new_token_secret"  # noqa: S105 - a key name, not a secret


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Profile: the user's teams and API tokens; a new token's secret is shown once.

    Creating a token is post/redirect/get: a reload of the page that shows the secret is a
    GET, so it cannot create a second token. The secret waits in the session for exactly one
    display (popped on the next GET), never in a URL or a cookie.
    """
    form = APITokenForm()
    status = 200
    if request.method == "POST":
        form = APITokenForm(request.POST)
        if form.is_valid():
            token, secret = APIToken.issue(
                request.user,
                form.cleaned_data["name"],
                form.expires_at(),
                read_only=form.cleaned_data["read_only"],
                scope=form.cleaned_data["scope"],
                hostgroups=form.cleaned_data["hostgroups"],
            )
            request.session[NEW_TOKEN_SESSION_KEY] = secret
            messages.success(
                request,
                _("Token “%(name)s” created. Copy it now: it is not shown again.") % {"name": token.name},
            )
            return redirect("profile")
        status = 400
    new_secret = request.session.pop(NEW_TOKEN_SESSION_KEY, None) if request.method == "GET" else None
    tokens = APIToken.objects.filter(user=request.user.pk)
    response = render(
        request,
        "account/profile.html",
        {
            "form": form,
            "tokens": tokens,
            "new_secret": new_secret,
            "teams": Team.objects.filter(members=request.user.pk),
            "curl_url": request.build_absolute_uri(reverse("registry-api:host-list")),
        },
        status=status,
    )
    if new_secret:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's own tokens (someone else's is a 404)."""
    token = get_object_or_404(APIToken, pk=pk, user=request.user)
    token.revoke()
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("profile")


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    client = redis_client.client()
    assert client is not None  # only asked when REDIS_URL is set
    client.ping()


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database (and Redis when configured) answer; 503 names what fails.

    The probe is public: it names the failing part only. Why it fails (addresses, driver
    messages) goes to the log, not to whoever asks.
    """
    checks: dict[str, Any] = {}
    parts = [("database", _check_database)]
    if settings.REDIS_URL:
        parts.append(("redis", _check_redis))
    failing = []
    for name, check in parts:
        try:
            check()
            checks[name] = "ok"
        except Exception:  # any failure makes the part not ready
            logger.warning("readyz: %s is not ready", name, exc_info=True)
            checks[name] = "error"
            failing.append(name)
    status = 503 if failing else 200
    return JsonResponse(
        {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}, status=status
    )
