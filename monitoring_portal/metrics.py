"""``/metrics``: who may read it, and the portal's own metrics beside django-prometheus's.

The portal's metrics are collected when Prometheus scrapes, not kept in the serving process:
the web runs as several gunicorn processes and deploys run in Celery workers on other hosts,
so a ``prometheus_client`` counter would only ever show what one process saw. Each scrape
reads, with a few cheap queries:

* the database: deployment records by node and state (an index), each node's latest finished
  deployment, the cluster watch's verdict per node, the notify decisions collected in the
  last hour (the ``time`` index);
* Redis: the counters and stamps the workers add where things happen
  (``monitoring_portal.counters``: phase timings, verify failures, reloads, lease retirements,
  snapshot publications), the overview's age, the Celery queues' lengths (``LLEN``).

A source that fails is left out of that scrape and logged; the rest is still served.
The coverage gaps are ``portal_coverage_gap_objects`` (preferences/coverage.py).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from prometheus_client.core import (
    REGISTRY,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from livestatus import overview_store
from monitoring_portal import counters, redis_client
from preferences.models import NotificationDecision
from registry.choices import FINAL_DEPLOYMENT_STATES
from registry.models import Deployment, NaemonNode, NodeHealth

logger = logging.getLogger(__name__)

DECISION_WINDOW = timedelta(hours=1)
DEFAULT_QUEUE = "celery"


def _deployments() -> Iterator[Metric]:
    records = GaugeMetricFamily(
        "portal_deployments",
        "Deployment records by node and state (pending, rendering...: work waiting or running).",
        labels=["node", "state"],
    )
    rows = Deployment.objects.values_list("node__name", "state").annotate(n=Count("pk")).order_by()
    for node, state, n in rows:
        records.add_metric([node, state], n)
    yield records
    latest = (
        Deployment.objects.filter(node=OuterRef("pk"), state__in=FINAL_DEPLOYMENT_STATES)
        .order_by("-created_at", "-pk")
        .values("state")[:1]
    )
    failed = GaugeMetricFamily(
        "portal_node_last_deployment_failed",
        "1 when the node's latest finished deployment failed (its live config is behind the registry).",
        labels=["node"],
    )
    for name, state in (
        NaemonNode.objects.filter(enabled=True).annotate(last=Subquery(latest)).values_list("name", "last")
    ):
        failed.add_metric([name], 1.0 if state == "failed" else 0.0)
    yield failed


def _nodes() -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "portal_node_up",
        "1 while the cluster watch sees the node answer (no verdict yet: 1), 0 while it is down.",
        labels=["node"],
    )
    drift = GaugeMetricFamily(
        "portal_node_drift",
        "How many kinds of drift (config, core, failed) the drift check sees on the node; 0: none.",
        labels=["node"],
    )
    down: set[str] = set()
    drifted: dict[str, int] = {}
    for name, healthy, kinds in NodeHealth.objects.values_list("node__name", "healthy", "drift"):
        if not healthy:
            down.add(name)
        drifted[name] = len(kinds) if isinstance(kinds, list) else 0
    for name in NaemonNode.objects.filter(enabled=True).values_list("name", flat=True):
        up.add_metric([name], 0.0 if name in down else 1.0)
        drift.add_metric([name], float(drifted.get(name, 0)))
    yield up
    yield drift


def _decisions() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "portal_notify_decisions_last_hour",
        "Notify-filter decisions collected from the nodes' logs, made in the last hour, by node and decision.",
        labels=["node", "decision"],
    )
    since = timezone.now() - DECISION_WINDOW
    rows = (
        NotificationDecision.objects.filter(time__gte=since)
        .values_list("node_name", "decision")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for node, decision, n in rows:
        family.add_metric([node, decision], n)
    yield family


def _counted() -> Iterator[Metric]:
    values = counters.counters()
    finished = CounterMetricFamily(
        "portal_deployments_finished",
        "Deployments run to an end, by node and final state (counted by the workers).",
        labels=["node", "state"],
    )
    verify = CounterMetricFamily(
        "portal_deploy_verify_failures", "Deploys whose verify command refused the config.", labels=["node"]
    )
    reloads = CounterMetricFamily(
        "portal_deploy_reloads", "Reloads asked of the node's core (rollbacks included).", labels=["node"]
    )
    retired = CounterMetricFamily(
        "portal_lease_retirements", "Hosts deleted because their lease expired.", labels=[]
    )
    simple = {
        counters.DEPLOYMENTS_FINISHED: finished,
        counters.VERIFY_FAILURES: verify,
        counters.RELOADS: reloads,
        counters.LEASE_RETIREMENTS: retired,
    }
    phases: dict[tuple[str, ...], dict[str, float]] = {}
    for (name, *labels), value in sorted(values.items()):
        if name in simple:
            simple[name].add_metric(labels, value)
        elif name.startswith(counters.DEPLOY_PHASE + "_"):
            phases.setdefault((*labels,), {})[name[len(counters.DEPLOY_PHASE) + 1 :]] = value
    if not values.get((counters.LEASE_RETIREMENTS,)):
        retired.add_metric([], 0.0)  # no retirement yet is a zero, not an absent series
    yield from simple.values()
    histogram = HistogramMetricFamily(
        "portal_deploy_phase_seconds",
        "How long each phase of a deploy took: render, write, verify, reload, confirm.",
        labels=["node", "phase"],
    )
    for key, parts in phases.items():
        buckets = [(str(bound), parts.get(f"le_{bound}", 0.0)) for bound in counters.BUCKETS]
        buckets.append(("+Inf", parts.get("count", 0.0)))
        histogram.add_metric(list(key), buckets, parts.get("sum", 0.0))
    yield histogram


def _ages() -> Iterator[Metric]:
    now = time.time()
    snapshot = GaugeMetricFamily(
        "portal_notify_snapshot_age_seconds",
        "Seconds since the node's worker last wrote its notify snapshot (the filter fails open after an hour).",
        labels=["node"],
    )
    stamps = counters.stamps()
    for name in NaemonNode.objects.filter(enabled=True).values_list("name", flat=True):
        published = stamps.get((counters.SNAPSHOT_PUBLISHED, name))
        snapshot.add_metric([name], now - published if published is not None else float("inf"))
    yield snapshot
    overview = GaugeMetricFamily(
        "portal_overview_age_seconds",
        "Seconds since the status overview (wall, status pages) was last refreshed from the nodes.",
    )
    # Without Redis the overview is computed on request: asking for it here would query the nodes.
    payload = overview_store.get_payload_bytes() if redis_client.client() is not None else None
    taken_at = json.loads(payload).get("taken_at") if payload else None
    overview.add_metric([], max(0.0, now - float(taken_at)) if taken_at else float("nan"))
    yield overview


def _queues() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "portal_celery_queue_length",
        "Messages waiting in a Celery queue: the default one and each node's (naemon.<node>).",
        labels=["queue"],
    )
    client = redis_client.broker()
    if client is None:  # eager Celery (no broker): nothing ever waits
        yield family
        return
    queues = [DEFAULT_QUEUE, *(f"naemon.{n}" for n in NaemonNode.objects.values_list("name", flat=True))]
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
    for queue, length in zip(queues, pipe.execute(), strict=True):
        family.add_metric([queue], float(length))
    yield family


SOURCES: tuple[Callable[[], Iterator[Metric]], ...] = (
    _deployments,
    _nodes,
    _decisions,
    _counted,
    _ages,
    _queues,
)


class PortalCollector(Collector):
    """The portal's own metrics, read from the database and Redis on each scrape."""

    def describe(self) -> Iterable[Metric]:
        # Without describe(), registering calls collect(): database queries at import time
        # (in manage.py migrate, before the tables exist). The families are named in collect.
        return []

    def collect(self) -> Iterable[Metric]:
        for source in SOURCES:
            try:
                # Whole families or none: a source failing half-way must not serve partial series.
                families = list(source())
            except Exception:  # one failing source must not fail the scrape
                logger.warning("metrics: %s failed; left out of this scrape", source.__name__, exc_info=True)
                continue
            yield from families


COLLECTOR = PortalCollector()
# Registered once per process, when the URL map is loaded (the process serves /metrics).
REGISTRY.register(COLLECTOR)


def _may_read(request: HttpRequest) -> bool:
    if settings.METRICS_PUBLIC:
        return True
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if settings.METRICS_TOKEN and scheme.lower() == "bearer":
        return hmac.compare_digest(secret.strip().encode(), settings.METRICS_TOKEN.encode())
    return bool(request.user.is_authenticated and request.user.is_staff)


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for the ``METRICS_TOKEN`` bearer and staff (anyone with ``METRICS_PUBLIC``).

    Request counts per view, the process's internals and the portal's nodes tell an attacker
    what the portal runs and how busy it is, so they are not public by default.
    """
    if not _may_read(request):
        response = HttpResponse(
            "Metrics need 'Authorization: Bearer <METRICS_TOKEN>' or a staff login.\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return ExportToDjangoView(request)
