"""The deployment page: one deployment of a node, its timeline, verifier output and config diff."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from registry import deployment_report
from registry.models import Deployment
from registry.permissions import may_redeploy


@login_required
@require_GET
def deployment_detail(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """``/registry/nodes/<node>/deployments/<id>/``: readable by every signed-in user, like the node page."""
    deployment = get_object_or_404(
        Deployment.objects.select_related("node", "covered_by"), pk=pk, node__name=name
    )
    context = {
        "node": deployment.node,
        "d": deployment,
        "timeline": deployment_report.timeline(deployment),
        "rendered_only": deployment_report.rendered_only(deployment),
        "rendered_only_text": deployment_report.RENDERED_ONLY,
        "output": deployment_report.output_lines(deployment),
        "other_warnings": deployment_report.other_warnings(deployment),
        "diff": deployment_report.config_diff(deployment),
        "can_redeploy": may_redeploy(request.user),
    }
    return render(request, "registry/deployment_detail.html", context)
