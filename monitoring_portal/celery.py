"""The Celery app: stock Celery, JSON only, configured from Django settings (CELERY_*)."""

import os

from celery import Celery

from monitoring_portal import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_portal.settings")

app = Celery("monitoring_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
tracing.connect_celery()
